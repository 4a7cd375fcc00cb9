"""The app starts on an empty database (migrations run) and users are added from the CLI."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mst.cli.main import app as cli
from mst.registry.db import current_revision, head_revision, make_engine
from mst.web import WebSettings, create_app


def test_startup_on_empty_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with TestClient(create_app(WebSettings(database_url=url, secure_cookies=False))) as c:
        assert c.get("/login").status_code == 200
        assert c.get("/openapi.json").status_code == 401  # the schema is behind login
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_user_add_from_cli_then_login(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'users.sqlite'}"
    runner = CliRunner()
    bad = runner.invoke(
        cli,
        ["user", "add", "bob", "--role", "clinician", "--password-stdin", "--db", url],
        input="long-enough-pw\n",
    )
    assert bad.exit_code == 2 and "center" in bad.output  # clinicians need a center
    ok = runner.invoke(
        cli,
        ["user", "add", "ann", "--role", "analyst", "--password-stdin", "--db", url],
        input="long-enough-pw\n",
    )
    assert ok.exit_code == 0, ok.output
    with TestClient(create_app(WebSettings(database_url=url, secure_cookies=False))) as c:
        import re

        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
        assert token
        r = c.post(
            "/login",
            data={"username": "ann", "password": "long-enough-pw", "csrf_token": token.group(1)},
        )
        assert r.status_code == 200
        assert c.get("/api/me").json() == {"username": "ann", "role": "analyst", "center_id": None}
        assert c.get("/openapi.json").json()["info"]["title"] == "mst"
