"""Database URL resolution, engines and Alembic migrations."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

DEFAULT_SQLITE_NAME = "mst.sqlite"


def database_url(url: str | None = None) -> str:
    """Resolve the registry URL.

    Parameters
    ----------
    url : str, optional
        Explicit SQLAlchemy URL. When omitted, ``MST_DATABASE_URL`` is used, and
        failing that an SQLite file ``mst.sqlite`` in the current directory.

    Returns
    -------
    str
        A SQLAlchemy URL. ``postgresql://`` URLs are mapped to the psycopg 3 driver.
    """
    resolved = (
        url or os.environ.get("MST_DATABASE_URL") or f"sqlite:///{Path.cwd() / DEFAULT_SQLITE_NAME}"
    )
    if resolved.startswith("postgresql://") or resolved.startswith("postgres://"):
        resolved = "postgresql+psycopg://" + resolved.split("://", 1)[1]
    return resolved


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for the registry (SQLite gets foreign keys switched on).

    Parameters
    ----------
    url : str, optional
        See :func:`database_url`.

    Returns
    -------
    sqlalchemy.Engine
    """
    engine = create_engine(database_url(url), future=True)
    if engine.dialect.name == "sqlite":
        file_db = engine.url.database not in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # We issue BEGIN ourselves (below), so that write transactions can take the
            # write lock at once (BEGIN IMMEDIATE) and wait for it instead of failing later.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if file_db:
                # WAL: readers (the web app) keep answering while an import writes.
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get(WRITE_FLAG) else "BEGIN")

    return engine


#: How long an SQLite writer waits for another writer before "registry busy, retry".
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: PostgreSQL advisory lock taken by every write transaction (writers queue, readers don't).
PG_WRITE_LOCK = 7_274_001
#: How long a PostgreSQL writer waits for another writer before "registry busy, retry".
PG_LOCK_TIMEOUT = "120s"
#: Connection-info flag set by the repository for write transactions.
WRITE_FLAG = "mst_write"


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the migrations shipped in the package."""
    cfg = Config()
    script_location = resources.files("mst.registry").joinpath("migrations")
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the registry schema to ``revision`` (Alembic).

    Parameters
    ----------
    engine : sqlalchemy.Engine
        Registry engine.
    revision : str, optional
        Target revision, ``"head"`` by default.
    """
    from sqlalchemy.exc import OperationalError

    from mst.registry.errors import RegistryBusyError, is_busy

    try:
        command.upgrade(alembic_config(engine), revision)
    except OperationalError as exc:
        if is_busy(exc):
            raise RegistryBusyError() from None
        raise


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the registry schema to ``revision`` (``"base"`` drops everything)."""
    command.downgrade(alembic_config(engine), revision)


def head_revision() -> str:
    """The newest migration shipped with the package."""
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("mst.registry").joinpath("migrations"))
    )
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
