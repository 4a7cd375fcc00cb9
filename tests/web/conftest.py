"""Fixtures of the web tests: a registry with three patients in two centers and users."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from mst.domain import Cohort
from mst.registry import open_registry
from mst.registry.users import UserStore
from mst.web import WebSettings, create_app

PASSWORD = "correct-horse-42"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
USERS = (
    ("c1", "clinician", "C01"),
    ("c2", "clinician", "C02"),
    ("v1", "viewer", "C01"),
    ("an", "analyst", None),
    ("ad", "admin", None),
)


@pytest.fixture
def web_db(db_url: str, small_cohort: Cohort) -> str:
    """Registry URL with the small cohort and the test users."""
    with open_registry(db_url, user="setup") as reg:
        reg.import_cohort(small_cohort)
        # Cheap argon2 parameters keep the tests fast; production uses the library defaults.
        store = UserStore(reg.engine, actor="setup", hasher=FAST_HASHER)
        for name, role, center in USERS:
            store.add_user(name, PASSWORD, role, center)
    return db_url


@pytest.fixture
def client(web_db: str) -> Iterator[TestClient]:
    """A test client of the app (plain-HTTP cookies: the test server is not HTTPS)."""
    app = create_app(
        WebSettings(database_url=web_db, secret_key="test-secret", secure_cookies=False)
    )
    with TestClient(app) as c:
        yield c


def csrf_of(html: str) -> str:
    """The CSRF token in a rendered form."""
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in page"
    return m.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns a CSRF token of the new session."""
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/patients"},
    )
    assert r.status_code == 200, r.text  # redirect followed to the patient list
    return csrf_of(r.text)
