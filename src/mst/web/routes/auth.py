"""Login and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mst.web.deps import Csrf, SessionDep, State
from mst.web.security import SESSION_COOKIE, Session

router = APIRouter()


def set_session(response: Response, state: State, session: Session) -> None:
    """Attach the signed session cookie (HttpOnly, SameSite=Lax, Secure per settings)."""
    response.set_cookie(
        SESSION_COOKIE,
        state.codec.dumps(session),
        max_age=state.settings.session_max_age,
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )


def _safe_next(target: str | None) -> str:
    return (
        target if target and target.startswith("/") and not target.startswith("//") else "/patients"
    )


@router.get("/login", include_in_schema=False)
def login_page(
    request: Request, state: State, session: SessionDep, next: str | None = None
) -> Response:
    """The login form (creates an anonymous session to carry the CSRF token)."""
    session = session or state.codec.new()
    response = state.templates.TemplateResponse(
        request,
        "login.html",
        {"user": None, "csrf": session.csrf, "next": _safe_next(next), "error": None},
    )
    set_session(response, state, session)
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
    """Check the credentials; on success start a new session (new CSRF token)."""
    user = state.users.authenticate(username.strip(), password)
    if user is None:
        assert session is not None
        return state.templates.TemplateResponse(
            request,
            "login.html",
            {
                "user": None,
                "csrf": session.csrf,
                "next": _safe_next(next),
                "error": "Unknown user name or wrong password.",
            },
            status_code=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session(response, state, state.codec.new(user.username))
    return response


@router.post("/logout", include_in_schema=False, dependencies=[Csrf])
def logout() -> Response:
    """End the session."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
