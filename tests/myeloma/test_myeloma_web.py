"""Web: the myeloma patient page shows staging and the IMWG response timeline; the cohort page
filters by disease (TestClient, and once in Debian's Chromium)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from mst.domain import Cohort
from mst.registry import open_registry
from mst.registry.users import UserStore
from mst.simulate.myeloma import simulate_myeloma_cohort
from mst.web import WebSettings, create_app

PASSWORD = "correct-horse-42"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def mm_db(db_url: str, small_cohort: Cohort) -> str:
    mm = simulate_myeloma_cohort(2, seed=4)
    both = Cohort(centers=small_cohort.centers, records=small_cohort.records + mm.records)
    with open_registry(db_url, user="setup") as reg:
        reg.import_cohort(both)
        store = UserStore(reg.engine, actor="setup",
                          hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        store.add_user("c1", PASSWORD, "clinician", "C01")
    return db_url


@pytest.fixture
def client(mm_db: str) -> Iterator[TestClient]:
    app = create_app(WebSettings(database_url=mm_db, secret_key="t", secure_cookies=False))
    with TestClient(app) as c:
        yield c


def _login(client: TestClient) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    r = client.post("/login", data={"username": "c1", "password": PASSWORD,
                                    "csrf_token": token.group(1), "next": "/patients"})
    assert r.status_code == 200


def test_myeloma_patient_page(client: TestClient) -> None:
    _login(client)
    page = client.get("/patients/C01-MM0001").text
    assert 'id="myeloma-stages"' in page and "R2-ISS" in page and "Greipp" in page
    assert 'id="myeloma-timeline"' in page and "Best confirmed response" in page
    assert 'id="myeloma"' not in client.get("/patients/C01-0001").text


def test_cohort_filter_by_disease(client: TestClient) -> None:
    _login(client)
    n = re.search(r'id="cohort-n">(\d+) patients', client.get("/cohort?diagnosis=myeloma").text)
    assert n and n.group(1) == "2"
    all_n = re.search(r'id="cohort-n">(\d+) patients', client.get("/cohort").text)
    assert all_n and int(all_n.group(1)) > 2
    csv = client.get("/cohort/table.csv?diagnosis=myeloma").text.splitlines()
    assert len(csv) == 3 and all(",myeloma," in line for line in csv[1:])


@pytest.mark.browser
def test_in_chromium(mm_db: str) -> None:
    if not mm_db.startswith("sqlite"):
        pytest.skip("the browser path is the same on PostgreSQL (covered by tests/web)")
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("MST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MST_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip("Debian chromium not installed")
    import uvicorn
    from playwright.sync_api import sync_playwright

    app = create_app(WebSettings(database_url=mm_db, secret_key="b", secure_cookies=False))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM,
                                  args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page: Any = b.new_page()
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "c1")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/patients")
            page.goto(f"{base}/cohort")
            page.select_option("#cohort-filters [name=diagnosis]", "myeloma")
            page.click("#cohort-filters button[type=submit]")
            page.wait_for_load_state()
            assert page.inner_text("#cohort-n").startswith("2 patients")
            page.goto(f"{base}/patients/C01-MM0001")
            assert "ISS" in page.inner_text("#myeloma-stages")
            assert page.locator("#myeloma-timeline tbody tr").count() >= 1
            b.close()
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
