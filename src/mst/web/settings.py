"""Settings of the web app."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WebSettings:
    """Configuration of one web app instance.

    Attributes
    ----------
    database_url : str or None
        Registry URL (see :func:`mst.registry.db.database_url`).
    secret_key : str
        Signs session cookies; ``MST_SECRET_KEY`` or a random key per process.
    secure_cookies : bool
        Send the session cookie with ``Secure`` (HTTPS only). Browsers accept
        secure cookies on ``http://localhost``.
    session_max_age : int
        Seconds a session stays valid.
    """

    database_url: str | None = None
    secret_key: str = field(
        default_factory=lambda: os.environ.get("MST_SECRET_KEY") or secrets.token_urlsafe(32)
    )
    secure_cookies: bool = True
    session_max_age: int = 8 * 3600
