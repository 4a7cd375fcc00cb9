"""Alembic environment of the mst registry (run through :func:`mst.registry.db.upgrade`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text

from mst.registry.db import PG_WRITE_LOCK
from mst.registry.schema import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the engine handed over by mst (or one built from the URL)."""
    engine = config.attributes.get("engine") or create_engine(
        config.get_main_option("sqlalchemy.url")
    )
    from mst.registry.db import WRITE_FLAG

    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        raw = connection.connection.dbapi_connection
        if sqlite:
            # SQLite rebuilds a table to drop a column: with foreign keys on, dropping the
            # old patients table would cascade-delete every child row. Off for the
            # migration (outside any transaction, as SQLite requires), checked after.
            raw.execute("PRAGMA foreign_keys=OFF")
        connection.info[WRITE_FLAG] = True  # SQLite: take the write lock at BEGIN
        try:
            with connection.begin():
                _run(connection)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"migration left a broken foreign key: {broken}")
        finally:
            connection.info.pop(WRITE_FLAG, None)
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":  # one migrating process at a time
        connection.execute(text(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})"))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL for the migrations without a database."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
