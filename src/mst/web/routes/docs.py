"""API documentation (Swagger UI served from local files) and the OpenAPI schema, behind
login; the favicon."""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from mst import __version__
from mst.web.deps import CurrentUser, State

router = APIRouter(include_in_schema=False)


@router.get("/openapi.json")
def openapi_schema(request: Request, user: CurrentUser) -> JSONResponse:
    """The OpenAPI schema of the JSON API (logged-in users only)."""
    schema: dict[str, Any] = request.app.openapi()
    return JSONResponse(schema)


@router.get("/docs")
def api_docs(request: Request, state: State, user: CurrentUser) -> Response:
    """Swagger UI for the API (logged-in users only; no CDN)."""
    return state.templates.TemplateResponse(request, "docs.html", {"version": __version__})


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The site icon."""
    path = resources.files("mst.web").joinpath("static/favicon.ico")
    return FileResponse(str(path), media_type="image/x-icon")
