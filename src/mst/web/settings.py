"""Settings of the web app."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdecimal() else default


@dataclass(frozen=True)
class WebSettings:
    """Configuration of one web app instance.

    Attributes
    ----------
    database_url : str or None
        Registry URL (see :func:`mst.registry.db.database_url`).
    secret_key : str
        Signs the pre-login cookie that carries the login form's CSRF token;
        ``MST_SECRET_KEY`` or a random key per process.
    secure_cookies : bool
        Send cookies with ``Secure`` (HTTPS only). Browsers accept secure cookies on
        ``http://localhost``.
    session_idle_timeout : int
        Seconds without a request after which a session ends (``MST_SESSION_IDLE_MINUTES``,
        default 30 minutes).
    session_max_age : int
        Seconds after login after which a session ends whatever the activity
        (``MST_SESSION_MAX_HOURS``, default 8 hours).
    max_concurrent_hashes : int
        Password checks (argon2, 64 MiB each) running at the same time; further login
        attempts wait up to ``hash_wait_seconds`` for a slot, then get 503.
    hash_wait_seconds : float
        See ``max_concurrent_hashes``.
    """

    database_url: str | None = None
    secret_key: str = field(
        default_factory=lambda: os.environ.get("MST_SECRET_KEY") or secrets.token_urlsafe(32)
    )
    secure_cookies: bool = True
    session_idle_timeout: int = field(
        default_factory=lambda: 60 * _env_int("MST_SESSION_IDLE_MINUTES", 30)
    )
    session_max_age: int = field(
        default_factory=lambda: 3600 * _env_int("MST_SESSION_MAX_HOURS", 8)
    )
    max_concurrent_hashes: int = 2
    hash_wait_seconds: float = 5.0
