"""Database errors in plain words: a locked registry, a broken database constraint."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError, OperationalError

from mst.errors import ConsistencyError, MstError


class RegistryBusyError(MstError):
    """Another program holds the registry's write lock longer than the busy timeout."""

    def __init__(self) -> None:
        super().__init__(
            "registry busy, retry: another import or change is being written; nothing was "
            "written by this command"
        )


def is_busy(exc: OperationalError) -> bool:
    """True when the error is SQLite's "database is locked" / "busy"."""
    text = str(getattr(exc, "orig", exc)).lower()
    return any(
        k in text for k in ("database is locked", "database is busy", "lock timeout", "locked")
    )


_KIND = {
    "UNIQUE": "already exists (it must be unique)",
    "NOT NULL": "is missing (required)",
    "FOREIGN KEY": "refers to a record that does not exist",
    "CHECK": "breaks a rule of the database",
}


def integrity_error(exc: IntegrityError) -> ConsistencyError:
    """Translate a database constraint violation into the table, field and rule.

    The SQL statement and parameters are never shown; nothing was written.

    Parameters
    ----------
    exc : sqlalchemy.exc.IntegrityError
        The error from SQLite (``UNIQUE constraint failed: donors.id``) or PostgreSQL
        (diagnostics with table, column, constraint and ``Key (id)=(D1)``).

    Returns
    -------
    mst.errors.ConsistencyError
    """
    orig = getattr(exc, "orig", exc)
    diag = getattr(orig, "diag", None)
    if diag is not None and getattr(diag, "table_name", None):
        detail = getattr(diag, "message_detail", None) or ""
        key = re.search(r"Key \((.+?)\)=\((.*?)\)", detail)
        field = f"{diag.table_name}.{key.group(1) if key else (diag.column_name or '?')}"
        sqlstate = getattr(orig, "sqlstate", "") or ""
        kind = {
            "23505": "UNIQUE",
            "23502": "NOT NULL",
            "23503": "FOREIGN KEY",
            "23514": "CHECK",
        }.get(sqlstate, "CHECK")
        value = f" {key.group(2)!s}" if key else ""
        return ConsistencyError(
            f"registry: {field}{value}", f"{_KIND[kind]}; nothing was written"
        )
    text = str(orig)
    m = re.search(r"(UNIQUE|NOT NULL|FOREIGN KEY|CHECK) constraint failed(?::\s*(.+))?", text)
    if m:
        fields = (m.group(2) or "").strip() or "a field"
        return ConsistencyError(f"registry: {fields}", f"{_KIND[m.group(1)]}; nothing was written")
    return ConsistencyError("registry", "a database constraint was broken; nothing was written")
