"""Read-only store transactions: how they begin on each database, and the error a write
in one of them raises.

On SQLite every store transaction begins with ``BEGIN IMMEDIATE``, which takes the
database's one write lock for as long as the transaction lasts (so that two processes
never deadlock upgrading a read to a write). A web page or an API call that only reads
would then hold back the scheduler for as long as it takes to draw. A read-only
transaction begins with a plain ``BEGIN`` instead: it reads one snapshot of the database
(WAL mode) while writers go on, and ``PRAGMA query_only`` makes SQLite refuse any write
in it. On PostgreSQL it begins with ``BEGIN READ ONLY``, sent where a plain ``BEGIN``
would be (no round trip more), and the server refuses writes. Either refusal is raised
as :class:`~millstream.exceptions.StoreUsageError`.
"""

from __future__ import annotations

import contextlib
import contextvars
import sqlite3
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

from millstream.exceptions import StoreUsageError

_READ_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "millstream_read_only", default=False)
_QUERY_ONLY = "millstream.query_only"  # what PRAGMA query_only is set to on a connection
_PG_READ_ONLY_TRANSACTION = "25006"  # SQLSTATE read_only_sql_transaction
_PG_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction begun on the connection


@contextlib.contextmanager
def beginning(read_only: bool) -> Iterator[None]:
    """A transaction begun in this block is read-only if ``read_only``."""
    token = _READ_ONLY.set(read_only)
    try:
        yield
    finally:
        _READ_ONLY.reset(token)


def postgresql_begin() -> bytes:
    """The statement that begins a store transaction on PostgreSQL."""
    return b"BEGIN READ ONLY" if _READ_ONLY.get() else b"BEGIN"


def begin_postgresql(connection: Connection) -> None:
    """Make a read-only store transaction read-only on PostgreSQL where the pool's checkout
    did not begin it (``database.pool_pre_ping`` off): by its first statement, before
    psycopg's own ``BEGIN``."""
    if not _READ_ONLY.get():
        return
    driver = connection.connection.driver_connection
    if not getattr(driver, "autocommit", True) \
            and driver.info.transaction_status == _PG_IDLE:  # type: ignore[union-attr]
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")


def begin_sqlite(connection: Connection) -> None:
    """Begin a store transaction on SQLite: read-only, or holding the write lock."""
    read_only = _READ_ONLY.get()
    if connection.info.get(_QUERY_ONLY, False) is not read_only:
        connection.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")
        connection.info[_QUERY_ONLY] = read_only
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def refuse_writes_clearly(engine: Engine) -> None:
    """Raise a write refused in a read-only transaction as StoreUsageError."""

    @event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        error = context.original_exception
        connection = context.connection
        refused = (
            getattr(error, "sqlstate", None) == _PG_READ_ONLY_TRANSACTION
            or (isinstance(error, sqlite3.OperationalError) and connection is not None
                and connection.info.get(_QUERY_ONLY, False)
                and "readonly" in str(error))
        )
        if refused:
            words = (context.statement or "").split(None, 1)
            what = words[0] if words else "a statement"
            raise StoreUsageError(
                f"a read-only store transaction cannot write ({what} refused); "
                "use store.transaction() to change data"
            ) from error


__all__ = ["begin_postgresql", "begin_sqlite", "beginning", "postgresql_begin",
           "refuse_writes_clearly"]
