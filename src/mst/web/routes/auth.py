"""Login and logout: server-side sessions, throttled and audited logins."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mst.registry.repository import Repository
from mst.web.deps import Csrf, SessionDep, State
from mst.web.security import LOGIN_COOKIE, LOGIN_COOKIE_MAX_AGE, SESSION_COOKIE

router = APIRouter()


def _cookie(response: Response, state: State, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )


def _safe_next(target: str | None) -> str:
    return (
        target if target and target.startswith("/") and not target.startswith("//") else "/patients"
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _audit(state: State, user: str, action: str, detail: dict[str, object]) -> None:
    Repository(state.engine, user or "anonymous").audit_event(
        action, "session", user or "(empty)", detail
    )


@router.get("/login", include_in_schema=False)
def login_page(
    request: Request, state: State, session: SessionDep, next: str | None = None
) -> Response:
    """The login form (a signed pre-login cookie carries its CSRF token)."""
    csrf = session.csrf if session else state.login_codec.new_csrf()
    response = state.templates.TemplateResponse(
        request,
        "login.html",
        {"user": None, "csrf": csrf, "next": _safe_next(next), "error": None},
    )
    if session is None or session.user is None:
        _cookie(response, state, LOGIN_COOKIE, state.login_codec.dumps(csrf), LOGIN_COOKIE_MAX_AGE)
    return response


@router.post("/login", include_in_schema=False, dependencies=[Csrf])
def login(
    request: Request,
    state: State,
    session: SessionDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the credentials (throttled, bounded hashing, audited); start a new session."""
    assert session is not None
    name, address = username.strip().lower(), _address(request)

    def refuse(message: str, status: int, outcome: str) -> Response:
        _audit(state, name, "login-fail", {"address": address, "outcome": outcome})
        return state.templates.TemplateResponse(
            request,
            "login.html",
            {"user": None, "csrf": session.csrf, "next": _safe_next(next), "error": message},
            status_code=status,
        )

    gate = state.throttle.check(name, address)
    if gate.locked:
        return refuse(
            "This account is locked after too many failed logins; ask an administrator "
            "to unlock it (mst user unlock).",
            423,
            "account locked",
        )
    if not gate.allowed:
        wait = math.ceil(gate.wait_seconds)
        return refuse(
            f"Too many failed logins: wait {wait} s before trying again.", 429, "throttled"
        )
    if not state.hash_slots.acquire(timeout=state.settings.hash_wait_seconds):
        return refuse("The server is busy checking passwords; try again shortly.", 503, "busy")
    try:
        user = state.users.authenticate(name, password)
    finally:
        state.hash_slots.release()
    if user is None:
        locked = state.throttle.failure(name, address)
        return refuse(
            "Unknown user name or wrong password."
            + (" The account is now locked; ask an administrator to unlock it." if locked else ""),
            401,
            "locked now" if locked else "wrong user name or password",
        )
    state.throttle.success(name, address)
    if session.token:  # a new login replaces the old session (no fixation)
        state.sessions.end(session.token)
    token, _csrf = state.sessions.create(user.username, address)
    _audit(state, user.username, "login", {"address": address})
    response = RedirectResponse(_safe_next(next), status_code=303)
    _cookie(response, state, SESSION_COOKIE, token, state.settings.session_max_age)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False, dependencies=[Csrf])
def logout(request: Request, state: State, session: SessionDep) -> Response:
    """End the session on the server (the cookie no longer works anywhere)."""
    name = state.sessions.end(request.cookies.get(SESSION_COOKIE))
    if name:
        _audit(state, name, "logout", {"address": _address(request)})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
