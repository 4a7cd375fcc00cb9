"""Accounts, sessions, CSRF and per-center access, through the pages and the API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from mst.errors import ValidationError
from mst.registry import open_registry
from mst.registry.users import UserStore
from mst.web import WebSettings, create_app

from .conftest import PASSWORD, csrf_of, login


def test_pages_require_login(client: TestClient) -> None:
    r = client.get("/patients/C01-0001", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/api/patients").status_code == 401


def test_wrong_password_and_unknown_user(client: TestClient) -> None:
    for user, pw in (("c1", "wrong-password"), ("nobody", PASSWORD)):
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"username": user, "password": pw, "csrf_token": token})
        assert r.status_code == 401
        assert "Unknown user name or wrong password" in r.text


def test_login_without_csrf_token_rejected(client: TestClient) -> None:
    client.get("/login")
    r = client.post("/login", data={"username": "c1", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text


def test_clinician_sees_only_own_center(client: TestClient) -> None:
    login(client, "c2")
    page = client.get("/patients").text
    assert "C02-0001" in page and "C01-0001" not in page
    assert client.get("/patients/C01-0001").status_code == 404
    assert client.get("/api/patients/C01-0001").status_code == 404
    assert client.get("/patients/C01-0001/audit").status_code == 404
    assert [p["id"] for p in client.get("/api/patients").json()["items"]] == ["C02-0001"]
    assert client.get("/api/patients/C02-0001").status_code == 200


def test_cross_center_write_is_refused(client: TestClient) -> None:
    token = login(client, "c2")
    r = client.post(
        "/patients/C01-0001/add/lab",
        data={
            "csrf_token": token,
            "date": "2020-02-01",
            "analyte": "anc",
            "value": "1",
            "unit": "10^9/L",
        },
    )
    assert r.status_code == 404


def test_viewer_cannot_write(client: TestClient) -> None:
    token = login(client, "v1")
    assert client.get("/patients/C01-0001").status_code == 200
    assert client.get("/patients/new").status_code == 403
    r = client.post(
        "/patients/C01-0001/add/event",
        data={"csrf_token": token, "date": "2020-03-01", "kind": "fever"},
    )
    assert r.status_code == 403


def test_analyst_reads_all_centers_pseudonymized(client: TestClient) -> None:
    login(client, "an")
    ids = [p["id"] for p in client.get("/api/patients").json()["items"]]
    assert ids == ["C01-0001", "C01-0002", "C02-0001"]
    data = client.get("/api/patients/C02-0001").json()
    assert "birth_date" not in data["patient"]
    assert "1952-06-15" not in client.get("/patients/C02-0001").text
    assert client.get("/patients/new").status_code == 403


def test_form_post_without_csrf_rejected(client: TestClient) -> None:
    login(client, "c1")
    r = client.post("/patients/C01-0001/add/event", data={"date": "2020-03-01", "kind": "fever"})
    assert r.status_code == 403


def test_logout_ends_session(client: TestClient) -> None:
    token = login(client, "c1")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/api/me").status_code == 401


def test_session_cookie_flags(web_db: str) -> None:
    app = create_app(WebSettings(database_url=web_db, secret_key="k", secure_cookies=True))
    with TestClient(app) as c:
        cookie = c.get("/login").headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie


def test_tampered_cookie_is_ignored(client: TestClient) -> None:
    login(client, "c1")
    value = client.cookies.get("mst_session", "")
    client.cookies.clear()
    client.cookies.set("mst_session", value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1])
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize(
    ("username", "password", "role", "center", "field"),
    [
        ("Bad Name", PASSWORD, "clinician", "C01", "username"),
        ("ok", "short", "clinician", "C01", "password"),
        ("ok", PASSWORD, "surgeon", None, "role"),
        ("ok", PASSWORD, "clinician", None, "center"),
        ("ok", PASSWORD, "analyst", "C01", "center"),
        ("ok", PASSWORD, "viewer", "C99", "center"),
    ],
)
def test_user_rules(
    web_db: str, username: str, password: str, role: str, center: str | None, field: str
) -> None:
    with open_registry(web_db) as reg, pytest.raises(ValidationError) as exc:
        UserStore(reg.engine).add_user(username, password, role, center)
    assert exc.value.field == field


def test_passwords_are_hashed_with_argon2(web_db: str) -> None:
    from sqlalchemy import select

    from mst.registry.schema import UserRow

    with open_registry(web_db) as reg, reg.engine.connect() as conn:
        hashes = [h for (h,) in conn.execute(select(UserRow.password_hash))]
    assert hashes and all(h.startswith("$argon2") and PASSWORD not in h for h in hashes)
