"""Web commands: ``mst serve`` and ``mst user add|revoke|unlock``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mst.cli.common import handle_errors
from mst.errors import ValidationError

DEMO_PASSWORD = "mst-demo-2026"
DEMO_USERS = (
    ("clinician", "clinician", "C01"),
    ("clinician2", "clinician", "C02"),
    ("viewer", "viewer", "C01"),
    ("analyst", "analyst", None),
    ("admin", "admin", None),
)


def create_demo_users(db: str | None) -> list[tuple[str, str, str | None]]:
    """Create (or reset) the demo accounts, all with :data:`DEMO_PASSWORD`."""
    from mst.registry.db import make_engine, upgrade
    from mst.registry.users import UserStore

    engine = make_engine(db)
    try:
        upgrade(engine)
        store = UserStore(engine, actor="mst demo")
        for name, role, center in DEMO_USERS:
            store.add_user(name, DEMO_PASSWORD, role, center)
    finally:
        engine.dispose()
    return list(DEMO_USERS)


def serve(db: str | None, host: str, port: int, secure_cookies: bool) -> None:
    """Run the web app with uvicorn until interrupted."""
    import uvicorn

    from mst.web import WebSettings, create_app

    app = create_app(WebSettings(database_url=db, secure_cookies=secure_cookies))
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register ``serve`` and ``user`` on the main app."""
    del stats_app
    user_app = typer.Typer(help="Web users.", no_args_is_help=True)
    app.add_typer(user_app, name="user")

    @app.command("serve")
    @handle_errors
    def serve_cmd(
        db: Annotated[str | None, typer.Option("--db", help="Registry URL.")] = None,
        host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port")] = 8000,
        insecure_cookies: Annotated[
            bool,
            typer.Option("--insecure-cookies", help="Allow the session cookie over plain HTTP."),
        ] = False,
    ) -> None:
        """Serve the web app on a real registry (migrations run on start)."""
        serve(db, host, port, secure_cookies=not insecure_cookies)

    @user_app.command("add")
    @handle_errors
    def user_add(
        username: Annotated[str, typer.Argument(help="Login name.")],
        role: Annotated[str, typer.Option("--role", help="clinician, viewer, analyst or admin.")],
        center: Annotated[
            str | None, typer.Option("--center", help="Center (clinician/viewer).")
        ] = None,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from standard input.")
        ] = False,
        db: Annotated[str | None, typer.Option("--db", help="Registry URL.")] = None,
    ) -> None:
        """Create a web user (or reset their password, role and center)."""
        from mst.registry.db import make_engine, upgrade
        from mst.registry.users import UserStore

        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        if not password:
            raise ValidationError("password", "", "must not be empty")
        engine = make_engine(db)
        try:
            upgrade(engine)
            from mst.registry import default_user

            user = UserStore(engine, actor=default_user()).add_user(
                username, password, role, center
            )
        finally:
            engine.dispose()
        typer.echo(
            f"user {user.username} ({user.role.value}{', ' + center if center else ''}) saved"
        )

    @user_app.command("revoke")
    @handle_errors
    def user_revoke(
        username: Annotated[str, typer.Argument(help="Login name.")],
        db: Annotated[str | None, typer.Option("--db", help="Registry URL.")] = None,
    ) -> None:
        """End every open web session of a user at once (audited)."""
        n = _admin_action(db, username, "revoke")
        typer.echo(f"{n} session(s) of {username} ended")

    @user_app.command("unlock")
    @handle_errors
    def user_unlock(
        username: Annotated[str, typer.Argument(help="Login name.")],
        db: Annotated[str | None, typer.Option("--db", help="Registry URL.")] = None,
    ) -> None:
        """Unlock an account locked after too many failed logins (audited)."""
        was_locked = _admin_action(db, username, "unlock")
        typer.echo(f"{username} unlocked" if was_locked else f"{username} was not locked")


def _admin_action(db: str | None, username: str, action: str) -> int:
    """Revoke a user's sessions or unlock the account; one audit row by the CLI user."""
    from mst.registry import default_user
    from mst.registry.db import make_engine, upgrade
    from mst.registry.repository import Repository
    from mst.registry.sessions import LoginThrottle, SessionStore
    from mst.registry.users import UserStore

    engine = make_engine(db)
    try:
        upgrade(engine)
        if UserStore(engine).get(username) is None:
            raise ValidationError("username", username, "no such user")
        if action == "revoke":
            result = SessionStore(engine, 0, 0).end_all(username)
        else:
            result = int(LoginThrottle(engine).unlock(username))
        Repository(engine, default_user()).audit_event(
            action,
            "session",
            username,
            {"sessions_ended" if action == "revoke" else "was_locked": result},
        )
        return result
    finally:
        engine.dispose()
