"""Typed FastAPI dependencies: app state, session, current user, scoped repository, CSRF."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from mst.registry.repository import Repository
from mst.registry.sessions import LoginThrottle, SessionStore
from mst.registry.users import User, UserStore
from mst.web.page_cache import CohortTableCache, RecordPageCache, TtlCache, VersionedCache
from mst.web.security import LOGIN_COOKIE, SESSION_COOKIE, LoginCookieCodec, Session, csrf_ok
from mst.web.settings import WebSettings


class LoginRequiredError(Exception):
    """Raised by dependencies when no valid session exists."""


class ForbiddenError(Exception):
    """Raised when the user's role does not allow the action."""


class CsrfError(Exception):
    """Raised when a form's CSRF token is missing or wrong."""


@dataclass
class AppState:
    """What the app keeps for its lifetime."""

    settings: WebSettings
    engine: Engine
    login_codec: LoginCookieCodec
    sessions: SessionStore
    throttle: LoginThrottle
    hash_slots: threading.BoundedSemaphore
    templates: Jinja2Templates
    users: UserStore
    pages: RecordPageCache
    tables: CohortTableCache
    api_records: VersionedCache
    donor_pages: RecordPageCache
    outcomes: VersionedCache
    fragments: VersionedCache
    centers: TtlCache


# The dependencies are ``async`` although they do (brief) synchronous work: they run on the
# event loop instead of taking a thread-pool hop each, which keeps latency tails short.


async def get_state(request: Request) -> AppState:
    """The app's state."""
    return request.app.state.mst  # type: ignore[no-any-return]


State = Annotated[AppState, Depends(get_state)]


async def get_session(request: Request, state: State) -> Session | None:
    """The request's session: a live server-side session, else the pre-login CSRF cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    active = state.sessions.resolve(token)
    if active is not None:
        return Session(active.user, active.csrf, token)
    csrf = state.login_codec.loads(request.cookies.get(LOGIN_COOKIE))
    return Session(None, csrf) if csrf else None


SessionDep = Annotated[Session | None, Depends(get_session)]


async def get_user(state: State, session: SessionDep) -> User:
    """The logged-in user; raises :class:`LoginRequiredError` otherwise."""
    if session is None or session.user is None:
        raise LoginRequiredError
    return session.user


CurrentUser = Annotated[User, Depends(get_user)]


async def get_repo(state: State, user: CurrentUser) -> Repository:
    """A repository scoped to the user's centers, auditing as the user."""
    return Repository(state.engine, user.username, user.center_scope)


Repo = Annotated[Repository, Depends(get_repo)]


async def require_writer(user: CurrentUser) -> User:
    """The user, if their role may change records; else :class:`ForbiddenError`."""
    if not user.role.can_write:
        raise ForbiddenError
    return user


Writer = Annotated[User, Depends(require_writer)]


async def check_csrf(request: Request, session: SessionDep) -> None:
    """Reject a form POST whose ``csrf_token`` does not match the session."""
    form = await request.form()
    token = form.get("csrf_token")
    if not csrf_ok(session, token if isinstance(token, str) else None):
        raise CsrfError


Csrf = Depends(check_csrf)
