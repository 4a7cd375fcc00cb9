"""Login, logout and password change: server-side sessions, throttled and audited."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mst.errors import ValidationError
from mst.registry.repository import Repository
from mst.registry.users import User, check_password
from mst.web.deps import Csrf, CurrentUser, SessionDep, State
from mst.web.security import LOGIN_COOKIE, LOGIN_COOKIE_MAX_AGE, SESSION_COOKIE
from mst.web.services import FormResult

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


#: Fields of the password-change form (their values are never sent back to the browser).
PASSWORD_FIELDS = ("current_password", "new_password", "new_password_again")


def _password_page(
    request: Request,
    state: State,
    user: User,
    csrf: str,
    errors: dict[str, str] | None = None,
    general: str | None = None,
    status: int = 200,
) -> Response:
    return state.templates.TemplateResponse(
        request,
        "password.html",
        {
            "user": user,
            "csrf": csrf,
            "form": FormResult(values={}, errors=errors or {}, general=general),
            "done": None,
        },
        status_code=status,
    )


@router.get("/account/password", include_in_schema=False)
def password_form(
    request: Request, state: State, user: CurrentUser, session: SessionDep
) -> Response:
    """The form to change one's own password."""
    assert session is not None
    return _password_page(request, state, user, session.csrf)


@router.post("/account/password", include_in_schema=False, dependencies=[Csrf])
def change_password(
    request: Request,
    state: State,
    user: CurrentUser,
    session: SessionDep,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    new_password_again: Annotated[str, Form()] = "",
) -> Response:
    """Change one's own password: the current one is checked (throttled as a login), the new
    one against the policy; every session of the user ends and this browser gets a new one."""
    assert session is not None
    name, address = user.username, _address(request)

    def audit(outcome: str) -> None:
        _audit_user(state, name, {"outcome": outcome, "address": address})

    gate = state.throttle.check(name, address)
    if gate.locked:
        audit("account locked")
        return _password_page(
            request,
            state,
            user,
            session.csrf,
            general="This account is locked after too many wrong passwords; ask an "
            "administrator to unlock it (mst user unlock).",
            status=423,
        )
    if not gate.allowed:
        audit("throttled")
        wait = math.ceil(gate.wait_seconds)
        return _password_page(
            request,
            state,
            user,
            session.csrf,
            general=f"Too many wrong passwords: wait {wait} s before trying again.",
            status=429,
        )
    errors: dict[str, str] = {}
    ended = 0
    try:
        check_password(new_password, name)
    except ValidationError as exc:
        errors["new_password"] = exc.rule
    if new_password_again != new_password:
        errors["new_password_again"] = "does not match the new password"
    if not current_password:
        errors["current_password"] = "is required"
    else:
        if not state.hash_slots.acquire(timeout=state.settings.hash_wait_seconds):
            audit("busy")
            return _password_page(
                request,
                state,
                user,
                session.csrf,
                general="The server is busy checking passwords; try again shortly.",
                status=503,
            )
        try:
            verified = state.users.authenticate(name, current_password) is not None
            if verified and not errors:
                try:
                    ended = state.users.change_own_password(
                        name, current_password, new_password, address
                    )
                except ValidationError as exc:
                    errors["new_password"] = exc.rule
        finally:
            state.hash_slots.release()
        if not verified:
            errors["current_password"] = "is not your current password"
            if state.throttle.failure(name, address):
                audit("locked now")
                ended = state.sessions.end_all(name)
                response = _password_page(
                    request,
                    state,
                    user,
                    session.csrf,
                    general="Too many wrong passwords: the account is now locked and all its "
                    "sessions have ended; ask an administrator to unlock it.",
                    status=423,
                )
                response.delete_cookie(SESSION_COOKIE, path="/")
                return response
            audit("wrong current password")
        else:
            state.throttle.success(name, address)
    if errors:
        return _password_page(request, state, user, session.csrf, errors=errors, status=422)
    # every session of the user has ended, this one included: start a fresh one here
    token, csrf = state.sessions.create(name, address)
    response = state.templates.TemplateResponse(
        request,
        "password.html",
        {"user": user, "csrf": csrf, "form": FormResult(values={}), "done": ended},
    )
    _cookie(response, state, SESSION_COOKIE, token, state.settings.session_max_age)
    return response


def _audit_user(state: State, name: str, detail: dict[str, object]) -> None:
    Repository(state.engine, name).audit_event("password", "user", name, detail)
