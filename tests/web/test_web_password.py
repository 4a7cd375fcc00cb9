"""Self-service password change: policy, other sessions ended, audit, CSRF, throttling."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mst.cli.main import app as cli
from mst.errors import ValidationError
from mst.registry import open_registry
from mst.registry.sessions import ThrottlePolicy
from mst.registry.users import UserStore

from .conftest import FAST_HASHER, PASSWORD, csrf_of, login

NEW = "violet-harbour-lantern-7"


def _me(client: TestClient, cookie: str) -> int:
    client.cookies.clear()
    client.cookies.set("mst_session", cookie, domain="testserver.local")
    return client.get("/api/me").status_code


def _change(
    client: TestClient, token: str, current: str, new: str, again: str | None = None
) -> Any:
    return client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": current,
            "new_password": new,
            "new_password_again": new if again is None else again,
        },
    )


def _password_rows(web_db: str) -> list[dict[str, object]]:
    with open_registry(web_db, user="t", migrate=False) as reg:
        return [
            {"user": e.user, **(e.after or {})}
            for e in reg.audit_log(entity="user")
            if e.action == "password"
        ]


def test_change_ends_other_sessions_and_is_audited(client: TestClient, web_db: str) -> None:
    login(client, "c1")
    elsewhere = client.cookies["mst_session"]  # another browser of the same user
    client.cookies.clear()
    login(client, "c1")
    here = client.cookies["mst_session"]
    form = client.get("/account/password")
    assert form.status_code == 200 and 'id="password-form"' in form.text
    r = _change(client, csrf_of(form.text), PASSWORD, NEW)
    assert r.status_code == 200 and 'id="password-changed"' in r.text
    assert "1 other session ended" in r.text
    fresh = client.cookies["mst_session"]
    assert fresh != here and client.get("/api/me").json()["username"] == "c1"
    assert _me(client, elsewhere) == 401 and _me(client, here) == 401  # ended at once
    assert _me(client, fresh) == 200  # this browser continues with a new session
    client.cookies.clear()
    with pytest.raises(AssertionError):
        login(client, "c1")  # the old password no longer works
    client.cookies.clear()
    login(client, "c1", NEW)
    rows = _password_rows(web_db)
    assert [(x["user"], x["outcome"], x["sessions_ended"]) for x in rows] == [("c1", "changed", 2)]
    with open_registry(web_db, user="t", migrate=False) as reg:
        trail = json.dumps([e.__dict__ for e in reg.audit_log()], default=str)
    assert PASSWORD not in trail and NEW not in trail and "$argon2" not in trail


def test_every_invalid_field_is_reported_and_nothing_changes(
    client: TestClient, web_db: str
) -> None:
    token = login(client, "v1")  # every role may change its own password
    r = _change(client, token, "not-my-password-at-all", "short1", "short2")
    assert r.status_code == 422
    for name in ("current_password", "new_password", "new_password_again"):
        assert f'id="err-{name}"' in r.text, name
    assert "at least 12 characters" in r.text and "does not match" in r.text
    assert "not-my-password-at-all" not in r.text and "short1" not in r.text  # never echoed
    for bad, words in (
        ("password1234", "commonly used"),
        ("v1-is-my-own-name", "user name"),
        (PASSWORD, "must differ from the current password"),
    ):
        r = _change(client, token, PASSWORD, bad)
        assert r.status_code == 422 and words in r.text, bad
    assert _me(client, client.cookies["mst_session"]) == 200  # still logged in, unchanged
    client.cookies.clear()
    login(client, "v1")  # the password is the old one
    assert [x["outcome"] for x in _password_rows(web_db)] == ["wrong current password"]


def test_change_needs_csrf_and_login(client: TestClient) -> None:
    assert client.get("/account/password", follow_redirects=False).status_code == 303
    login(client, "c1")
    r = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": NEW, "new_password_again": NEW},
    )
    assert r.status_code == 403
    r = _change(client, "forged-token", PASSWORD, NEW)
    assert r.status_code == 403
    client.cookies.clear()
    login(client, "c1")  # unchanged


def test_wrong_current_passwords_are_throttled_then_lock(client: TestClient, web_db: str) -> None:
    token = login(client, "c2")
    state = client.app.state.mst  # type: ignore[attr-defined]
    state.throttle.policy = ThrottlePolicy(base_delay=60)  # no test depends on the clock
    # back-off after 3 free failures (as for logins); the 4th costs a wait
    codes = [_change(client, token, f"wrong-guess-number-{i}", NEW).status_code for i in range(4)]
    assert codes == [422, 422, 422, 422]
    r = _change(client, token, PASSWORD, NEW)  # even the right one must wait now
    assert r.status_code == 429 and "wait" in r.text
    # locked after the policy's number of failures: every session of the user ends
    state.throttle.policy = ThrottlePolicy(free_failures=10, lock_after=6)
    assert _change(client, token, "wrong-guess-number-5", NEW).status_code == 422
    cookie = client.cookies["mst_session"]
    r = _change(client, token, "wrong-guess-number-6", NEW)
    assert r.status_code == 423 and "locked" in r.text
    assert _me(client, cookie) == 401
    outcomes = [x["outcome"] for x in _password_rows(web_db)]
    assert outcomes.count("wrong current password") == 5
    assert "throttled" in outcomes and outcomes[-1] == "locked now"
    # an administrator unlocks, and can still reset the password (ending sessions)
    assert CliRunner().invoke(cli, ["user", "unlock", "c2", "--db", web_db]).exit_code == 0
    client.cookies.clear()
    login(client, "c2")
    cookie = client.cookies["mst_session"]
    with open_registry(web_db, user="admin", migrate=False) as reg:
        UserStore(reg.engine, actor="ad", hasher=FAST_HASHER).add_user(
            "c2", "admin-reset-password-9", "clinician", "C02"
        )
    assert _me(client, cookie) == 401
    client.cookies.clear()
    login(client, "c2", "admin-reset-password-9")


def test_store_refuses_policy_breaks(web_db: str) -> None:
    with open_registry(web_db, user="t", migrate=False) as reg:
        store = UserStore(reg.engine, hasher=FAST_HASHER)
        with pytest.raises(ValidationError, match="at least 12"):
            store.change_own_password("c1", PASSWORD, "x" * 11)
        with pytest.raises(ValidationError, match="must differ"):
            store.change_own_password("c1", PASSWORD, PASSWORD)
        assert store.change_own_password("c1", PASSWORD, "x" * 4 + "-fresh-lantern") == 0
        assert store.authenticate("c1", "x" * 4 + "-fresh-lantern") is not None
