"""The scheduler's hottest statements, run on SQLite's own cursor.

A short statement through SQLAlchemy's ``Connection.execute`` costs about 50 µs of CPU,
most of it building an execution context and a result object; the same statement on the
``sqlite3`` cursor costs about 10 µs. A chain's handoff runs eight of them, so the
statements marked with :func:`~millstream.store.sql.direct_statements.direct` are
compiled by SQLAlchemy once (per set of parameter names: an UPDATE's SET clause follows
them), then run with SQLAlchemy's own bind and result processors (datetimes, JSON) on a
cursor kept per connection.

This path is SQLite's, taken only inside a transaction the store began (PostgreSQL has
its own, :mod:`~millstream.store.sql.pg_direct`, for the same marked statements): the
connection watchdog samples PostgreSQL's calls only, and on SQLite listens for errors.
A statement that fails here (SQLite undoes a failed statement) is run again on
SQLAlchemy's path, which raises its own error through its own handling and listeners.
A statement that needs what this path does not do (Python-side column defaults,
expanding or computed parameters, many rows at once) keeps SQLAlchemy's path.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect

from millstream.store.sql.direct_statements import (
    Binding,
    DirectResult,
    Readers,
    read_rows,
    row_readers,
)

_CURSOR = "millstream.sqlite_cursor"


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    binding: Binding  # the parameter at each position
    readers: Readers | None  # None: the statement returns no rows


_UNPLANNED = object()
_PLANS: dict[tuple[int, frozenset[str]], _Plan | None] = {}


def _plan(statement: Any, keys: frozenset[str], dialect: Dialect) -> _Plan | None:
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
    binding = Binding.of(compiled, tuple(compiled.positiontup or ()), keys)
    if binding is None:
        return None
    readers: Readers | None = None
    if compiled._result_columns:
        readers = row_readers(entry.type._cached_result_processor(dialect, None)
                              for entry in compiled._result_columns)
    return _Plan(str(compiled), binding, readers)


def _cursor(connection: Connection) -> sqlite3.Cursor:
    """A cursor of the connection's sqlite3 connection, made once and kept with it."""
    driver = connection.connection.driver_connection
    kept = connection.info.get(_CURSOR)
    if kept is None or kept[0] is not driver:
        kept = connection.info[_CURSOR] = (driver, driver.cursor())  # type: ignore[union-attr]
    cursor: sqlite3.Cursor = kept[1]
    return cursor


def run_direct(connection: Connection, statement: Any,
               params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
               ) -> DirectResult | None:
    """Run a :func:`~millstream.store.sql.direct_statements.direct` statement on the
    connection's sqlite3 cursor; None when it must take SQLAlchemy's path instead (the
    caller then runs it there), as when the database refused it."""
    if isinstance(params, Sequence):
        # One row only: sqlite3 runs each row of many as a statement of its own, so rows
        # before a refused one would stay written and be written again by SQLAlchemy.
        if len(params) != 1:
            return None
        params = params[0]
    params = params or {}
    key = (id(statement), frozenset(params))
    plan = _PLANS.get(key, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _PLANS[key] = _plan(statement, key[1], connection.dialect)
    if not isinstance(plan, _Plan):
        return None
    try:
        values = plan.binding.values(params)
    except KeyError:  # a parameter is missing: SQLAlchemy says which
        return None
    cursor = _cursor(connection)
    try:
        cursor.execute(plan.sql, values)
        if plan.readers is None:
            return DirectResult([], cursor.rowcount)
        return DirectResult(read_rows(cursor.fetchall(), plan.readers), cursor.rowcount)
    except sqlite3.Error:
        # SQLite undid the statement; SQLAlchemy runs it again and, if it fails again,
        # raises its own error, through its own error handling and listeners.
        return None


__all__ = ["run_direct"]
