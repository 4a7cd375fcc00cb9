"""Security headers on every response (pure ASGI middleware: no per-request task overhead).

* ``Content-Security-Policy``: scripts, styles, fonts and images only from this site (no
  inline script or style; SVG charts are markup, not script), no plugins, no framing
  (``frame-ancestors 'none'``), forms post only here.
* ``X-Frame-Options: DENY`` for browsers without CSP level 2, ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: no-referrer``, ``Cross-Origin-Opener-Policy: same-origin``.
* ``Cache-Control: no-store`` on everything but the static assets (every page, API answer and
  export may hold patient data).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
COMMON = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
NO_STORE = ((b"cache-control", b"no-store"), (b"pragma", b"no-cache"))
STATIC_CACHE = ((b"cache-control", b"public, max-age=3600"),)


class SecurityHeaders:
    """Add the security headers to every HTTP response of ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        static = path.startswith("/static/") or path == "/favicon.ico"
        extra = COMMON + (STATIC_CACHE if static else NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in extra}
                headers = [(k, v) for k, v in message.get("headers", []) if k not in names]
                message = {**message, "headers": headers + list(extra)}
            await send(message)

        await self.app(scope, receive, send_with_headers)
