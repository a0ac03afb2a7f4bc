"""Alembic's entry point: runs millstream's migrations on the connection it is given."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from millstream.store.sql.engine import make_engine
from millstream.store.sql.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # A migration may rewrite a big table: the services' statement timeout is not
            # for it (SET LOCAL ends with this transaction).
            connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            # Services started together on a new database each migrate it: one at a time,
            # and the next finds the work done (Alembic reads the version after this lock).
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtext('millstream migrations'), "
                "hashtext(current_schema()))"
            )
        context.run_migrations()


def run_offline() -> None:
    """Print the migrations' SQL for the URL's dialect instead of running it."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database to migrate: pass a connection or set sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.begin() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
