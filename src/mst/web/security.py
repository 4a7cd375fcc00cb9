"""Signed session cookies and CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "mst_session"


@dataclass(frozen=True)
class Session:
    """What the session cookie carries: the user (if logged in) and the CSRF token."""

    username: str | None
    csrf: str


class SessionCodec:
    """Encode and verify session cookies (itsdangerous, HMAC-signed, time-limited).

    Parameters
    ----------
    secret_key : str
        Signing key.
    max_age : int
        Validity in seconds.
    """

    def __init__(self, secret_key: str, max_age: int) -> None:
        self._s = URLSafeTimedSerializer(secret_key, salt="mst-session")
        self.max_age = max_age

    def new(self, username: str | None = None) -> Session:
        """A fresh session with a new CSRF token."""
        return Session(username=username, csrf=secrets.token_urlsafe(24))

    def dumps(self, session: Session) -> str:
        """Cookie value of a session."""
        return self._s.dumps({"u": session.username, "c": session.csrf})

    def loads(self, value: str | None) -> Session | None:
        """The session in a cookie value, or ``None`` if missing, forged or expired."""
        if not value:
            return None
        try:
            data = self._s.loads(value, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        return Session(username=data.get("u"), csrf=data["c"])


def csrf_ok(session: Session | None, token: str | None) -> bool:
    """True when the form's token equals the session's (constant-time)."""
    return bool(session and token and hmac.compare_digest(session.csrf, token))
