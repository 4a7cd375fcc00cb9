"""Server-side sessions, login throttling, password policy (issue #15 defects 3–5)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from mst.cli.main import app as cli
from mst.errors import ValidationError
from mst.registry import open_registry
from mst.registry.schema import WebSessionRow
from mst.registry.sessions import LoginThrottle, ThrottlePolicy
from mst.registry.users import UserStore, check_password

from .conftest import FAST_HASHER, PASSWORD, csrf_of, login


def _replay(client: TestClient, cookie: str) -> int:
    client.cookies.clear()
    client.cookies.set("mst_session", cookie, domain="testserver.local")
    return client.get("/api/me").status_code


def _age_session(client: TestClient, **fields: dt.timedelta) -> None:
    engine = client.app.state.mst.engine  # type: ignore[attr-defined]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(update(WebSessionRow).values({k: now - v for k, v in fields.items()}))


def test_logout_password_change_revoke_and_timeouts_end_the_session(
    client: TestClient, web_db: str
) -> None:
    token = login(client, "c1")
    cookie = client.cookies["mst_session"]
    assert _replay(client, cookie) == 200
    client.post("/logout", data={"csrf_token": token})
    assert _replay(client, cookie) == 401  # the copied cookie is dead at once
    assert client.get("/patients", follow_redirects=False).status_code == 303

    login(client, "c1")
    cookie = client.cookies["mst_session"]
    with open_registry(web_db, user="admin") as reg:
        UserStore(reg.engine, hasher=FAST_HASHER).add_user(
            "c1", "another-long-secret", "clinician", "C01"
        )
    assert _replay(client, cookie) == 401  # a password change ends every session

    client.cookies.clear()
    login(client, "c2")
    cookie = client.cookies["mst_session"]
    r = CliRunner().invoke(cli, ["user", "revoke", "c2", "--db", web_db])
    assert r.exit_code == 0 and "1 session(s) of c2 ended" in r.output
    assert _replay(client, cookie) == 401

    for aged in ({"last_seen_at": dt.timedelta(minutes=31)}, {"created_at": dt.timedelta(hours=9)}):
        client.cookies.clear()
        login(client, "v1")
        cookie = client.cookies["mst_session"]
        _age_session(client, last_seen_at=dt.timedelta(minutes=29))
        assert _replay(client, cookie) == 200  # idle 29 min < 30: still valid
        _age_session(client, **aged)
        assert _replay(client, cookie) == 401, aged

    with open_registry(web_db, user="t") as reg:
        actions = [(e.action, e.entity_key) for e in reg.audit_log(entity="session")]
    assert ("logout", "c1") in actions and ("revoke", "c2") in actions
    assert actions.count(("login", "c1")) == 2


def _try(client: TestClient, user: str, password: str) -> int:
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"username": user, "password": password, "csrf_token": token})
    return r.status_code


def test_login_throttled_per_account_then_locked_until_unlocked(
    client: TestClient, web_db: str
) -> None:
    state = client.app.state.mst  # type: ignore[attr-defined]
    assert [_try(client, "c1", "wrong-password-x") for _ in range(4)] == [401, 401, 401, 401]
    assert _try(client, "c1", PASSWORD) == 429  # 4th failure: wait 1 s before the next try
    # The same back-off is kept per client address (other accounts from here wait too).
    assert _try(client, "c2", PASSWORD) == 429
    state.throttle = LoginThrottle(state.engine, ThrottlePolicy(base_delay=0.0, lock_after=6))
    assert [_try(client, "c1", "wrong-password-x") for _ in range(2)] == [401, 401]
    assert _try(client, "c1", PASSWORD) == 423  # locked after 6: even the right password
    r = CliRunner().invoke(cli, ["user", "unlock", "c1", "--db", web_db])
    assert r.exit_code == 0 and "c1 unlocked" in r.output
    assert _try(client, "c1", PASSWORD) == 200
    with open_registry(web_db, user="t") as reg:
        rows = [e for e in reg.audit_log(entity="session") if e.entity_key == "c1"]
    fails = [e for e in rows if e.action == "login-fail"]
    assert len(fails) == 8 and {e.after["address"] for e in fails} == {"testclient"}
    assert [e.action for e in rows][-2:] == ["unlock", "login"]


def test_back_off_doubles_and_is_capped() -> None:
    p = ThrottlePolicy(free_failures=3, base_delay=1.0, max_delay=300.0)
    assert [p.delay(n) for n in (0, 3, 4, 5, 6, 12, 30)] == [0, 0, 1, 2, 4, 256, 300]


def test_password_hashing_is_bounded(client: TestClient) -> None:
    state = client.app.state.mst  # type: ignore[attr-defined]
    object.__setattr__(state.settings, "hash_wait_seconds", 0.05)
    held = [state.hash_slots.acquire(blocking=False) for _ in range(2)]
    assert all(held) and not state.hash_slots.acquire(blocking=False)  # two slots
    try:
        assert _try(client, "c1", PASSWORD) == 503
    finally:
        for _ in held:
            state.hash_slots.release()
    assert _try(client, "c1", PASSWORD) == 200


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "12345678",
        "short-pw-11",
        "password1234",
        "Qwerty123456!",
        "dragondragon",
        "c1-is-my-name!",
    ],
)
def test_password_policy_refuses(password: str) -> None:
    with pytest.raises(ValidationError) as exc:
        check_password(password, "c1")
    assert "'***'" in str(exc.value) and f"'{password}'" not in str(exc.value)


def test_password_policy_accepts_and_cli_refuses_common(tmp_path: object) -> None:
    check_password("correct-horse-42", "c1")
    check_password("a" * 128)
    with pytest.raises(ValidationError, match="at most 128"):
        check_password("a" * 129)
    r = CliRunner().invoke(
        cli,
        [
            "user",
            "add",
            "ann",
            "--role",
            "analyst",
            "--password-stdin",
            "--db",
            f"sqlite:///{tmp_path}/u.sqlite",
        ],
        input="password1234\n",
    )
    assert r.exit_code == 2 and "commonly used password" in r.output
