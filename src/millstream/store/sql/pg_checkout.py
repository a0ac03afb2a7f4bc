"""On PostgreSQL, a store transaction's connection is checked by its own ``BEGIN``, sent
as the pool hands the connection over, instead of by a ping before it.

With ``pool_pre_ping`` the pool sends ``SELECT 1`` on every connection it hands out, so
that one the server ended while it sat in the pool is replaced rather than failing its
first statement; then psycopg sends ``BEGIN`` before that first statement: two round
trips before a transaction does anything, on every tick of the scheduler. A store
transaction begins at once on the connection it takes, so here its ``BEGIN`` is sent
where the ping was, and is the check: a connection that fails it is replaced exactly as
one that fails the ping (the failure goes to the engine's ``handle_error`` listeners
as a ping's does, the pool's older connections are discarded, a new one is made).

psycopg begins a transaction itself before a statement unless the connection is in
autocommit mode, and refuses to leave that mode inside a transaction. So the ``BEGIN`` is
sent in autocommit mode, which psycopg then keeps until the transaction ends: statements,
``COMMIT`` and ``ROLLBACK`` go to the server as they would otherwise (psycopg sends
``COMMIT`` and ``ROLLBACK`` whenever a transaction is open). The connection stays in that
mode in the pool (which has ended any transaction left on it): the next store
transaction begins on it as it is, and any other user gets it back in transaction mode
first. Every other checkout (a connection taken outside a store transaction, one whose
transactions are not plain ``BEGIN``: autocommit engines, isolation levels) is pinged as
SQLAlchemy pings it, a connection just made not at all.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InvalidatePoolError, StatementError

from millstream.store.sql.read_only import postgresql_begin

_BEGIN_AT_CHECKOUT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "millstream_begin_at_checkout", default=False)
_FRESH = "millstream.fresh"  # made since its last checkout: not pinged, as SQLAlchemy does
_BEGUN = "millstream.begun_in_autocommit"  # -> the cursor that sends BEGIN


@contextlib.contextmanager
def begun_at_checkout() -> Iterator[None]:
    """A connection checked out in this block by an engine of :func:`check_by_begin`
    is handed over in a transaction (its ``BEGIN`` is its check)."""
    token = _BEGIN_AT_CHECKOUT.set(True)
    try:
        yield
    finally:
        _BEGIN_AT_CHECKOUT.reset(token)


def check_by_begin(engine: Engine) -> None:
    """Check the connections ``engine`` hands out (an engine made with
    ``pool_pre_ping=False``): by their ``BEGIN`` in :func:`begun_at_checkout`, by a ping
    otherwise."""
    dialect = engine.dialect

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        info = record.info
        fresh = info.pop(_FRESH, False)
        begun = info.get(_BEGUN, False)  # left in autocommit mode by a store transaction
        if _BEGIN_AT_CHECKOUT.get() and (begun or _begins_plainly(dbapi_connection)):
            _checked(dialect, dbapi_connection, lambda: _begin(dbapi_connection, info))
            return
        if begun:
            del info[_BEGUN]
            dbapi_connection.autocommit = False  # no transaction: ended on its return
        if not fresh and not dialect._do_ping_w_event(dbapi_connection):
            raise InvalidatePoolError()

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkout", on_checkout)


def _begins_plainly(dbapi_connection: Any) -> bool:
    """Whether psycopg would begin this connection's transactions with a bare ``BEGIN``."""
    return (not dbapi_connection.autocommit and dbapi_connection.isolation_level is None
            and dbapi_connection.read_only is None and dbapi_connection.deferrable is None)


def _begin(dbapi_connection: Any, info: dict[str, Any]) -> None:
    if not info.get(_BEGUN):
        dbapi_connection.autocommit = True
        info[_BEGUN] = dbapi_connection.cursor()
    info[_BEGUN].execute(postgresql_begin())


def _checked(dialect: Any, dbapi_connection: Any, check: Any) -> None:
    """Run ``check`` on a connection being handed out, as SQLAlchemy runs its ping: a
    lost connection is reported to the ``handle_error`` listeners and replaced (with
    the pool's older ones); any other error is raised."""
    try:
        check()
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, dbapi_connection, None)
        if dialect._has_events:
            try:
                Connection._handle_dbapi_exception_noconnection(
                    exc, dialect, is_disconnect=lost, invalidate_pool_on_disconnect=False,
                    is_pre_ping=True)
            except StatementError as reported:
                lost = reported.connection_invalidated
        if lost:
            raise InvalidatePoolError() from exc
        raise


__all__ = ["begun_at_checkout", "check_by_begin"]
