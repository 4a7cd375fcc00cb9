"""Registry: SQLAlchemy 2 tables, Alembic migrations, a repository layer and an audit trail.

SQLite by default (a file ``mst.sqlite`` in the current directory), PostgreSQL
when ``MST_DATABASE_URL`` (or ``url``) names one. Use :func:`open_registry`::

    with open_registry() as reg:
        records = reg.load_records()
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from mst.registry.db import database_url, make_engine, upgrade
from mst.registry.repository import AuditEntry, Repository


def default_user() -> str:
    """Name recorded in the audit trail: ``MST_USER``, else the login name."""
    try:
        fallback = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        fallback = "unknown"
    return os.environ.get("MST_USER") or fallback


@contextmanager
def open_registry(
    url: str | None = None,
    *,
    user: str | None = None,
    center_scope: Iterable[str] | None = None,
    migrate: bool = True,
) -> Iterator[Repository]:
    """Open the registry, creating or upgrading its schema first.

    Parameters
    ----------
    url : str, optional
        SQLAlchemy URL; see :func:`mst.registry.db.database_url` for the default.
    user : str, optional
        Who is recorded in the audit trail (default :func:`default_user`).
    center_scope : iterable of str, optional
        Restrict reads and writes to these centers.
    migrate : bool, optional
        Run the Alembic migrations to head first (default True).

    Yields
    ------
    Repository
    """
    engine = make_engine(url)
    try:
        if migrate:
            upgrade(engine)
        yield Repository(engine, user or default_user(), center_scope)
    finally:
        engine.dispose()


__all__ = [
    "AuditEntry",
    "Repository",
    "database_url",
    "default_user",
    "make_engine",
    "open_registry",
    "upgrade",
]
