"""End-to-end in Debian's Chromium (Playwright): the clinician's daily path and center isolation.

Screenshots of the key pages go to ``artifacts/screenshots/`` (a CI artifact).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(web_db: str) -> Iterator[str]:
    """The app served by uvicorn on a loopback port, for the test's duration."""
    import uvicorn

    from mst.web import WebSettings, create_app

    app = create_app(WebSettings(database_url=web_db, secret_key="browser", secure_cookies=False))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium (never a downloaded browser), one for the whole session."""
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("MST_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MST_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def _login(page: Any, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/patients")


def _shot(page: Any, name: str, db_url: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    backend = db_url.split(":", 1)[0].split("+", 1)[0]
    page.screenshot(path=str(SHOTS / f"{backend}-{name}.png"), full_page=True)


PATIENT_TYPING = (
    "A*02:01+A*01:01^B*07:02+B*08:01^C*07:02+C*07:01^DRB1*15:01+DRB1*03:01"
    "^DQB1*06:02+DQB1*02:01^DPB1*04:01+DPB1*03:01"
)
DONORS = (
    (
        "C01-0200-D1",
        "child",
        "M",
        "35",
        "A*02:01+A*03:01^B*07:02+B*35:01^C*07:02+C*04:01^DRB1*15:01+DRB1*01:01"
        "^DQB1*06:02+DQB1*05:01^DPB1*04:01+DPB1*02:01",
    ),
    (
        "C01-0200-D2",
        "sibling",
        "F",
        "52",
        "A*01:01+A*11:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
        "^DQB1*02:01+DQB1*03:02^DPB1*03:01+DPB1*04:02",
    ),
)


def _submit(
    page: Any, form: str, fields: dict[str, str], selects: dict[str, str] | None = None
) -> None:
    for name, value in fields.items():
        page.fill(f"{form} [name={name}]", value)
    for name, value in (selects or {}).items():
        page.select_option(f"{form} [name={name}]", value)
    page.click(f"{form} button[type=submit]")
    page.wait_for_load_state()


def test_clinician_path(server: str, browser: Any, web_db: str) -> None:
    page = browser.new_page()
    _login(page, server, "c1")
    assert "C01-0001" in page.inner_text("#patient-list")
    assert "C02-0001" not in page.inner_text("#patient-list")
    _shot(page, "patients", web_db)

    # Add a patient; first with a bad weight (message next to the field), then corrected.
    page.click("text=New patient")
    fields = {
        "id": "C01-0200",
        "age_at_diagnosis": "74",
        "diagnosis_date": "2025-01-06",
        "height_cm": "165",
        "weight_kg": "0",
        "hla_typing": PATIENT_TYPING,
    }
    _submit(page, "#patient-form", fields, {"sex": "F", "diagnosis": "AML", "fitness": "fit"})
    assert "must be at least 25" in page.inner_text("#err-weight_kg")
    _submit(page, "#patient-form", {"weight_kg": "64"})
    page.wait_for_url(f"{server}/patients/C01-0200")
    assert page.inner_text("h1") == "Patient C01-0200"

    # Get a plan: options with citations, doses from height and weight, the calendar.
    page.click("text=Plan (consensus)")
    _submit(page, "#plan-form", {"start": "2025-01-13", "regimen": "002-IA"})
    assert "004 §4.1" in page.inner_text("#assessment")
    assert "idarubicin" in page.inner_text("#doses")
    assert "2025-01-19" in page.inner_text("#calendar")  # day 7, last cytarabine
    _shot(page, "plan", web_db)

    # Two donors and their ranking with reasons.
    page.goto(f"{server}/patients/C01-0200/donors")
    for _donor_id, relationship, sex, age, typing in DONORS:  # ids are assigned in order
        _submit(
            page,
            "#donor-form",
            {"age": age, "hla_typing": typing},
            {"relationship": relationship, "sex": sex},
        )
    ranking = page.inner_text("#ranking-table")
    assert "C01-0200-D1" in ranking and "C01-0200-D2" in ranking
    assert "related donor" in ranking
    _shot(page, "donors", web_db)

    # Record the course and the infusion, enter daily counts, and see the recovery day.
    page.goto(f"{server}/patients/C01-0200")
    _submit(
        page,
        "#course-form",
        {"number": "1", "start_date": "2025-01-13"},
        {"kind": "induction", "regimen_id": "002-IA"},
    )
    _submit(
        page,
        "#infusion-form",
        {
            "course_number": "1",
            "infused_at": "2025-01-21T10:00",
            "mnc_1e8_per_kg": "2.6",
            "cd3_1e8_per_kg": "1.0",
        },
        {"donor_id": "C01-0200-D1", "product": "fresh"},
    )
    counts = [
        ("2025-01-20", "0.3", "40"),
        ("2025-01-21", "0.2", "30"),
        ("2025-01-22", "0.1", "22"),
        ("2025-02-01", "0.7", "45"),
        ("2025-02-02", "0.9", "60"),
        ("2025-02-03", "1.4", "80"),
    ]
    for day, anc, plt in counts:
        for analyte, value in (("anc", anc), ("platelets", plt)):
            _submit(
                page,
                "#lab-form",
                {"date": day, "value": value, "unit": "10^9/L"},
                {"analyte": analyte},
            )
    assert "2025-02-01" in page.inner_text("#recovery")

    # Rash and diarrhea 6–7 days after the infusion: the consensus GVHD-suspicion alert.
    for day, kind in (("2025-01-27", "rash"), ("2025-01-28", "diarrhea")):
        _submit(page, "#event-form", {"date": day}, {"kind": kind})
    assert "004 §2.3" in page.inner_text("#alerts")
    _shot(page, "patient", web_db)
    page.goto(f"{server}/patients/C01-0200/audit")
    assert page.locator("#audit tbody tr").count() >= 18
    _shot(page, "audit", web_db)

    # Cohort outcomes: KM with numbers at risk.
    page.goto(f"{server}/cohort")
    assert page.locator("#os svg").count() == 1
    assert "Number at risk" in page.inner_text("#os")
    _shot(page, "cohort", web_db)


def test_other_center_cannot_open_by_url(server: str, browser: Any) -> None:
    page = browser.new_page()
    _login(page, server, "c2")
    response = page.goto(f"{server}/patients/C01-0001")
    assert response is not None and response.status == 404
    api = page.goto(f"{server}/api/patients/C01-0001")
    assert api is not None and api.status == 404


def test_analyst_walks_the_audit_pages_with_a_filter(server: str, browser: Any) -> None:
    """The audit page is paged: the filter form, then "next" to page 2 keeping the filter;
    the analyst sees no birth date on any page."""
    page = browser.new_page()
    _login(page, server, "an")
    page.goto(f"{server}/patients/C01-0001/audit?limit=2")
    first = page.inner_text("#audit-count")
    assert first.startswith("entries 1–2 of ")
    assert page.locator("#previous-page").count() == 0
    page.select_option("#audit-filters select[name=entity]", "lab")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_load_state()
    assert "entity=lab" in page.url and "limit=2" in page.url
    found = re.search(r"of (\d+)", page.inner_text("#audit-count"))
    assert found
    total = int(found.group(1))
    assert total >= 3
    page_one = page.locator("#audit tbody tr").all_inner_texts()
    page.click("#next-page")
    page.wait_for_url(f"{server}/patients/C01-0001/audit?entity=lab&limit=2&offset=2")
    assert page.inner_text("#audit-count").startswith(f"entries 3–{min(4, total)} of {total}")
    rows = page.locator("#audit tbody tr").all_inner_texts()
    assert rows and not set(rows) & set(page_one)
    assert all("\tlab " in r for r in rows + page_one)  # the filter kept on page 2
    assert page.input_value("#audit-filters select[name=entity]") == "lab"
    assert page.locator("#previous-page").count() == 1
    assert "1952-06-15" not in page.content()
    page.close()


def test_correct_and_delete_a_lab_then_logout_kills_the_cookie(
    server: str, browser: Any, web_db: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    _login(page, server, "c1")
    page.goto(f"{server}/patients/C01-0001?lab_analyte=anc")
    first = page.locator("#lab-table tbody tr").first
    date = first.locator("td").first.inner_text()
    first.locator("text=Correct").click()
    page.wait_for_load_state()
    _submit(page, "#correct-form", {"value": "2.2", "reason": "typo in the value"})
    page.wait_for_url(f"{server}/patients/C01-0001#records")
    page.goto(f"{server}/patients/C01-0001?lab_analyte=anc&lab_from={date}&lab_to={date}")
    assert page.locator("#lab-table tbody tr").count() == 1
    assert page.locator("#lab-table tbody tr td.num").inner_text() == "2.2"
    page.locator("#lab-table tbody tr >> text=Correct").click()
    page.wait_for_load_state()
    _submit(page, "#delete-form", {"reason": "duplicate sample"})
    page.goto(f"{server}/patients/C01-0001?lab_analyte=anc&lab_from={date}&lab_to={date}")
    assert "No results for this filter" in page.inner_text("#lab-table")
    page.goto(f"{server}/patients/C01-0001/audit")
    audit = page.inner_text("#audit")
    assert "typo in the value" in audit and "duplicate sample" in audit
    assert "duplicate sample" in page.inner_text("#deleted")
    _shot(page, "audit-corrections", web_db)

    # The API docs render offline from local files, under the Content-Security-Policy.
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15000)
    assert "mst" in page.inner_text(".swagger-ui .info .title")
    page.goto(f"{server}/patients")

    cookies = context.cookies()
    page.click("header button[type=submit]")  # log out
    page.wait_for_url(f"{server}/login")
    thief = browser.new_context()
    thief.add_cookies([c for c in cookies if c["name"] == "mst_session"])
    response = thief.new_page().goto(f"{server}/api/me")
    assert response is not None and response.status == 401
    thief.close()
    context.close()


XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


def test_new_patient_cohort_and_xss_in_every_free_text_field(
    server: str, browser: Any, web_db: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def clean() -> None:
        assert page.evaluate("window.__xss") is None and not dialogs

    _login(page, server, "c1")
    page.goto(f"{server}/patients/new")
    _submit(
        page,
        "#patient-form",
        {"id": "C01-0300", "age_at_diagnosis": "61", "diagnosis_date": "2025-02-03"},
        {"sex": "M", "diagnosis": "AML"},
    )
    page.wait_for_url(f"{server}/patients/C01-0300")
    # The cohort page with a brand-new patient (no donor, no course).
    page.goto(f"{server}/cohort?by=sex")
    assert page.locator("#os svg").count() == 1 and page.locator("#table1").count() == 1
    _shot(page, "cohort-new-patient", web_db)

    # Free text everywhere it can be typed: rejected values are shown back, accepted ones
    # stored and shown — always as text, never as markup.
    page.goto(f"{server}/patients/C01-0300/edit")
    _submit(page, "#patient-form", {"hla_typing": XSS})
    assert XSS in page.input_value("#f-hla_typing")
    clean()
    page.goto(f"{server}/patients/C01-0300")
    _submit(
        page, "#event-form", {"date": "2025-02-10", "detail": XSS, "grade": "2"}, {"kind": "gvhd"}
    )
    assert XSS in page.inner_text("#event-table")
    clean()
    page.fill("#alerts [name=note]", XSS)
    page.click("#alerts button[type=submit]")
    page.wait_for_load_state()
    assert XSS in page.inner_text("#alerts")
    clean()
    page.goto(f"{server}/patients/C01-0300/records/event/1")
    _submit(page, "#correct-form", {"detail": "fixed", "reason": XSS})
    page.goto(f"{server}/patients/C01-0300/donors")
    _submit(
        page,
        "#donor-form",
        {"age": "40", "kir_genotype": XSS},
        {"relationship": "sibling", "sex": "F"},
    )
    _submit(page, "#antibody-form", {"date": "2025-02-01", "specificity": XSS, "mfi": "900"})
    clean()
    page.goto(f"{server}/patients/C01-0300/audit")
    assert XSS in page.inner_text("#audit")
    clean()
    page.goto(f"{server}/patients?q=" + XSS.replace("#", "%23"))
    assert XSS in page.input_value("input[name=q]")
    clean()
    context.close()
    anon = browser.new_page()
    anon.goto(f"{server}/login")
    anon.fill("input[name=username]", XSS)
    anon.fill("input[name=password]", XSS)
    anon.click("button[type=submit]")
    anon.wait_for_load_state()
    assert anon.evaluate("window.__xss") is None
    anon.close()


def test_password_change_ends_the_other_browser_session(
    server: str, browser: Any, web_db: str
) -> None:
    other = browser.new_context()  # the same user logged in elsewhere
    _login(other.new_page(), server, "v1")
    context = browser.new_context()
    page = context.new_page()
    _login(page, server, "v1")
    page.click("#change-password")
    page.wait_for_url(f"{server}/account/password")
    new = "quiet-meadow-orchard-81"
    fields = {"current_password": PASSWORD, "new_password": new, "new_password_again": "typo"}
    _submit(page, "#password-form", fields)
    assert "does not match" in page.inner_text("#err-new_password_again")
    assert page.input_value("[name=new_password]") == ""  # passwords never sent back
    _submit(page, "#password-form", {**fields, "new_password_again": new})
    assert "other session ended" in page.inner_text("#password-changed")
    _shot(page, "password-changed", web_db)
    page.goto(f"{server}/patients")  # this browser stays logged in
    assert page.url == f"{server}/patients"
    stale = other.pages[0]
    stale.goto(f"{server}/patients")  # the other one is sent to the login page
    assert stale.url.startswith(f"{server}/login")
    stale.fill("input[name=username]", "v1")
    stale.fill("input[name=password]", new)
    stale.click("button[type=submit]")
    stale.wait_for_url(f"{server}/patients")
    other.close()
    context.close()
