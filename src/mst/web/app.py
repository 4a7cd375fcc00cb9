"""Application factory of the web app."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from mst import __version__
from mst.errors import NotFoundError, ValidationError
from mst.registry.db import make_engine, upgrade
from mst.registry.sessions import LoginThrottle, SessionStore
from mst.registry.users import UserStore
from mst.web.deps import AppState, CsrfError, ForbiddenError, LoginRequiredError
from mst.web.headers import SecurityHeaders
from mst.web.page_cache import CohortTableCache, RecordPageCache, TtlCache, VersionedCache
from mst.web.security import LoginCookieCodec
from mst.web.settings import WebSettings


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """Build the web app on a registry (migrated to the latest schema on start).

    Parameters
    ----------
    settings : WebSettings, optional
        Database URL, secret key, cookie policy.

    Returns
    -------
    fastapi.FastAPI
    """
    settings = settings or WebSettings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    web_dir = resources.files("mst.web")
    templates = Jinja2Templates(directory=str(web_dir.joinpath("templates")))
    # Templates are compiled once; without this Jinja checks each file's time stamp on
    # every use (the installed package does not change while it runs).
    templates.env.auto_reload = False

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="mst",
        version=__version__,
        description="Microtransplantation platform: registry, plans, donors, monitoring, outcomes.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.state.mst = AppState(
        settings=settings,
        engine=engine,
        login_codec=LoginCookieCodec(settings.secret_key),
        sessions=SessionStore(engine, settings.session_idle_timeout, settings.session_max_age),
        throttle=LoginThrottle(engine),
        hash_slots=threading.BoundedSemaphore(settings.max_concurrent_hashes),
        templates=templates,
        users=UserStore(engine),
        pages=RecordPageCache(),
        tables=CohortTableCache(),
        api_records=VersionedCache(size=1024),
        donor_pages=RecordPageCache(),
        outcomes=VersionedCache(size=256),
        fragments=VersionedCache(size=512),
        centers=TtlCache(),
    )
    # Swagger UI 5 (OpenAPI 3.1) from the fastapi-offline wheel (MIT; Swagger UI itself is
    # Apache-2.0): /docs works without a CDN.
    swagger_dir = resources.files("fastapi_offline").joinpath("static")
    app.mount("/static/swagger", StaticFiles(directory=str(swagger_dir)), name="swagger")
    app.mount("/static", StaticFiles(directory=str(web_dir.joinpath("static"))), name="static")

    def _is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"

    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, exc: LoginRequiredError) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "not authenticated"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> Response:
        return _error(request, 403, "Your role does not allow this action.")

    @app.exception_handler(CsrfError)
    async def _csrf(request: Request, exc: CsrfError) -> Response:
        return _error(
            request, 403, "The form has expired or was not sent by this site (CSRF check)."
        )

    @app.exception_handler(ValidationError)
    async def _invalid(request: Request, exc: ValidationError) -> Response:
        return _error(request, 422, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own parameter errors, in plain words (no pydantic phrasing).
        parts = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "body"))
            parts.append(f"{where or 'request'}: missing or not readable")
        return _error(request, 422, "; ".join(parts) or "the request could not be read")

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, str(exc))

    def _error(request: Request, status: int, message: str) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=status)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "message": message, "user": None},
            status_code=status,
        )

    from mst.web.routes import api, auth, cohort, docs, patients

    app.include_router(auth.router)
    app.include_router(patients.router)
    app.include_router(cohort.router)
    app.include_router(api.router)
    app.include_router(docs.router)

    return app


def app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory``: settings from the environment.

    ``MST_DATABASE_URL`` (registry), ``MST_SECRET_KEY`` (must be shared by all workers),
    ``MST_INSECURE_COOKIES=1`` to allow the session cookie over plain HTTP.
    """
    import os

    return create_app(WebSettings(secure_cookies=os.environ.get("MST_INSECURE_COOKIES") != "1"))
