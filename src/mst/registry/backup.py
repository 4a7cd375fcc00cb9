"""Backups of the registry: SQLite's online backup API, ``pg_dump`` for PostgreSQL.

A backup is taken while the registry stays in use (SQLite copies a consistent snapshot
page by page; ``pg_dump`` reads one snapshot). A restore goes into an empty registry
only, so that it can never overwrite data by mistake.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, inspect, select

from mst.errors import MstError, ValidationError
from mst.registry.db import make_engine


class BackupError(MstError):
    """A backup or restore that could not be done; nothing was changed."""


def _sqlite_path(engine: Engine) -> Path:
    db = engine.url.database
    if not db or db == ":memory:":
        raise ValidationError("--db", str(engine.url), "an in-memory database cannot be backed up")
    return Path(db)


def _libpq_url(engine: Engine) -> str:
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client tools")
    return path


def backup(url: str | None, out: str | Path) -> Path:
    """Write a backup of the registry to ``out``.

    Parameters
    ----------
    url : str, optional
        Registry URL (see :func:`mst.registry.db.database_url`).
    out : str or Path
        Backup file: an SQLite database file for SQLite registries, a ``pg_dump``
        custom-format archive for PostgreSQL. Must not exist yet.

    Returns
    -------
    Path
        The file written.
    """
    target = Path(out)
    if target.exists():
        raise ValidationError("--out", str(target), "exists already: choose a new file name")
    engine = make_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            source = _sqlite_path(engine)
            if not source.exists():
                raise ValidationError("--db", str(source), "no such registry file")
            src = sqlite3.connect(source)
            dst = sqlite3.connect(target)
            try:
                with dst:
                    src.backup(dst)
            finally:
                dst.close()
                src.close()
            return target
        if engine.dialect.name == "postgresql":
            proc = subprocess.run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target),
                 "--dbname", _libpq_url(engine)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                target.unlink(missing_ok=True)
                raise BackupError(f"pg_dump failed: {proc.stderr.strip().splitlines()[-1:]}")
            return target
        raise ValidationError("--db", engine.dialect.name, "backup supports SQLite and PostgreSQL")
    finally:
        engine.dispose()


def _is_empty(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    if not names - {"alembic_version"}:
        return True
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for name, table in meta.tables.items():
            if name == "alembic_version":
                continue
            if conn.execute(select(table).limit(1)).first() is not None:
                return False
    return True


def restore(backup_file: str | Path, url: str | None) -> None:
    """Restore a backup into an empty registry.

    Parameters
    ----------
    backup_file : str or Path
        A file written by :func:`backup` for the same kind of database.
    url : str, optional
        Target registry URL; it must hold no data.
    """
    source = Path(backup_file)
    if not source.is_file():
        raise ValidationError("FILE", str(source), "no such backup file")
    engine = make_engine(url)
    try:
        if not _is_empty(engine):
            raise ValidationError(
                "--db", str(engine.url), "holds data: restore only into an empty registry"
            )
        if engine.dialect.name == "sqlite":
            if source.read_bytes()[:16] != b"SQLite format 3\x00":
                raise ValidationError("FILE", str(source), "is not an SQLite backup")
            target = _sqlite_path(engine)
            engine.dispose()
            src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            dst = sqlite3.connect(target)
            try:
                with dst:
                    src.backup(dst)
            finally:
                dst.close()
                src.close()
            return
        if engine.dialect.name == "postgresql":
            if source.read_bytes()[:5] != b"PGDMP":
                raise ValidationError("FILE", str(source), "is not a pg_dump custom archive")
            with engine.begin() as conn:  # an upgraded-but-empty registry: drop its tables
                meta = MetaData()
                meta.reflect(conn)
                meta.drop_all(conn)
            proc = subprocess.run(
                [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
                 "--dbname", _libpq_url(engine), str(source)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise BackupError(f"pg_restore failed: {proc.stderr.strip().splitlines()[-1:]}")
            return
        raise ValidationError("--db", engine.dialect.name, "restore supports SQLite and PostgreSQL")
    finally:
        engine.dispose()


def dump_tables(url: str | None) -> dict[str, list[dict[str, Any]]]:
    """Every row of every registry table, ordered by primary key (for comparisons).

    Parameters
    ----------
    url : str, optional
        Registry URL.

    Returns
    -------
    dict
        Table name → rows as dictionaries.
    """
    engine = make_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        out: dict[str, list[dict[str, Any]]] = {}
        with engine.connect() as conn:
            for name in sorted(meta.tables):
                table = meta.tables[name]
                order = list(table.primary_key.columns) or list(table.columns)
                rows = conn.execute(select(table).order_by(*order)).mappings()
                out[name] = [dict(r) for r in rows]
        return out
    finally:
        engine.dispose()
