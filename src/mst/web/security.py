"""Sessions as the web layer sees them, the pre-login CSRF cookie, and CSRF checks.

Logged-in sessions are server-side (:mod:`mst.registry.sessions`): the ``mst_session``
cookie holds a random token and nothing else. Before login, the login form's CSRF token
travels in a separate signed, time-limited cookie (``mst_login``) that grants nothing.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from mst.registry.users import User

SESSION_COOKIE = "mst_session"
LOGIN_COOKIE = "mst_login"
LOGIN_COOKIE_MAX_AGE = 3600


@dataclass(frozen=True)
class Session:
    """The request's session: the user (``None`` before login) and its CSRF token."""

    user: User | None
    csrf: str
    token: str | None = None

    @property
    def username(self) -> str | None:
        """The logged-in user's name."""
        return self.user.username if self.user else None


class LoginCookieCodec:
    """Sign and verify the pre-login cookie (itsdangerous, HMAC, time-limited).

    Parameters
    ----------
    secret_key : str
        Signing key.
    """

    def __init__(self, secret_key: str) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="mst-login-csrf")

    @staticmethod
    def new_csrf() -> str:
        """A fresh CSRF token."""
        return secrets.token_urlsafe(24)

    def dumps(self, csrf: str) -> str:
        """Cookie value carrying a CSRF token."""
        return self._s.dumps({"c": csrf})

    def loads(self, value: str | None) -> str | None:
        """The CSRF token in a cookie value, or ``None`` if missing, forged or expired."""
        if not value:
            return None
        try:
            data = self._s.loads(value, max_age=LOGIN_COOKIE_MAX_AGE)
        except BadSignature:
            return None
        return data.get("c") if isinstance(data, dict) and isinstance(data.get("c"), str) else None


def csrf_ok(session: Session | None, token: str | None) -> bool:
    """True when the form's token equals the session's (constant-time)."""
    return bool(session and token and hmac.compare_digest(session.csrf, token))
