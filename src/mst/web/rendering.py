"""Page content rendered once and reused: what a page shows of a record or of the cohort
depends on a version, the role and the filters, not on the request.

The patient, audit and cohort pages render their content (a Jinja template without the page
frame) once per key and version into a :class:`~mst.web.page_cache.VersionedCache`; each
request then only renders the frame (``cached.html``: title, navigation with the user's name,
the logout form) around it. The session's CSRF token, which forms in cached content need, is
rendered as :data:`CSRF_SLOT` and replaced per request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from mst.web.deps import AppState

#: Stands for the session's CSRF token in cached content; random per process, so no stored
#: text can contain it.
CSRF_SLOT = "csrf-slot-" + secrets.token_hex(16)


def render_content(state: AppState, template: str, context: dict[str, Any]) -> str:
    """Render a content template (no page frame) to a string."""
    return str(state.templates.get_template(template).render(context))


def cached_page(
    request: Request,
    state: AppState,
    user: Any,
    csrf: str,
    title: str,
    key: Hashable,
    version: int,
    build: Callable[[], str],
    status_code: int = 200,
) -> Response:
    """The page framed around content cached under ``key`` at ``version``.

    Parameters
    ----------
    request : Request
    state : AppState
    user : User
        Shown in the frame.
    csrf : str
        The session's CSRF token, put in place of :data:`CSRF_SLOT`.
    title : str
        Page title.
    key : hashable
        Everything the content depends on besides ``version`` (page, scope, role, filters).
    version : int
        Record or registry version the content is stamped with.
    build : callable
        Renders the content on a miss (with :data:`CSRF_SLOT` for the token).
    status_code : int
        HTTP status.
    """
    body = state.fragments.get(key, version, build)
    return framed(request, state, user, csrf, title, body, status_code)


def framed(
    request: Request,
    state: AppState,
    user: Any,
    csrf: str,
    title: str,
    body: str,
    status_code: int = 200,
) -> Response:
    """The page frame around rendered content (uncached content too)."""
    token = str(escape(csrf))
    return state.templates.TemplateResponse(
        request,
        "cached.html",
        {
            "user": user,
            "csrf": token,
            "title": title,
            "body": Markup(body.replace(CSRF_SLOT, token)),
        },
        status_code=status_code,
    )
