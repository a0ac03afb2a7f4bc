"""The scheduler's hottest statements, run on psycopg's own cursor.

Through SQLAlchemy's ``Connection.execute`` a short statement on PostgreSQL costs about
0.2 ms of the scheduler's CPU: an execution context, a result object, psycopg's
description of every column (a tick's reads return 30 to 50 of them), and psycopg
turning the ``%(name)s`` placeholders into ``$n`` again on every call (statements over
4 kB are not cached). A chain's handoff runs five of them. A statement marked with
:func:`~millstream.store.sql.direct_statements.direct` is compiled here by SQLAlchemy once
per database dialect and set of parameter names, its placeholders numbered once, and
then run on a ``psycopg.RawCursor`` kept per statement and connection, with SQLAlchemy's
own bind and result processors (a row read as on SQLite: only the columns that have a
processor, NULL left alone where the processor would give NULL back).

What SQLAlchemy does around a statement and the rest of the process relies on is kept:
the engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners are called
(the connection watchdog counts calls and notices answers through them), and an error is
handed to SQLAlchemy's own handling, which raises its ``DBAPIError`` subclass, calls the
``handle_error`` listeners and invalidates a lost connection, as it does for a statement
it ran itself. Unlike SQLite, a failed statement cannot be run again through SQLAlchemy:
PostgreSQL refuses every statement of the transaction after an error.

A statement takes SQLAlchemy's path when this one would do less than SQLAlchemy does:
Python-side column defaults, expanding or computed parameters, many rows at once, a
connection with execution options or echo, statement-level event listeners, or a psycopg
without ``RawCursor`` (before 3.2).
"""

from __future__ import annotations

import re
import weakref
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

_CURSOR = "millstream.pg_cursor"
_UNPLANNED = object()
_KEPT_ROWS = 100
"""A cursor that read more rows is closed after the call, its result with it."""
_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%|%")


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str  # with $n placeholders, as the engine's listeners and errors show it
    query: bytes  # the same, as psycopg sends it
    binding: Binding  # the parameter of each $n
    readers: Readers | None  # None: the statement returns no rows


_PLANS: weakref.WeakKeyDictionary[Dialect, dict[tuple[int, frozenset[str]], _Plan | None]] = (
    weakref.WeakKeyDictionary())


def numbered(sql: str, escaped: Mapping[str, str] | None = None
             ) -> tuple[str, tuple[str, ...]] | None:
    """``sql`` in psycopg's ``pyformat`` style with ``$n`` placeholders instead, and the
    parameter name of each ``$n`` (a name used twice is one parameter); None when the SQL
    has a ``%`` that is neither a placeholder nor an escaped one."""
    original = {value: key for key, value in (escaped or {}).items()}
    order: dict[str, int] = {}
    stray = False

    def replace(match: re.Match[str]) -> str:
        nonlocal stray
        name = match.group(1)
        if name is None:
            stray = stray or match.group(0) == "%"
            return "%"
        name = original.get(name, name)
        number = order.setdefault(name, len(order) + 1)
        return f"${number}"

    converted = _PLACEHOLDER.sub(replace, sql)
    return None if stray else (converted, tuple(order))


def _plan(statement: Any, keys: frozenset[str], dialect: Dialect) -> _Plan | None:
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
    sql = str(compiled)
    if "__[POSTCOMPILE_" in sql:
        return None  # rendered per execution (expanding IN, literal_execute)
    converted = numbered(sql, getattr(compiled, "escaped_bind_names", None))
    if converted is None:
        return None
    query, names = converted
    binding = Binding.of(compiled, names, keys)
    if binding is None:
        return None
    readers: Readers | None = None
    if compiled._result_columns:
        try:
            # The driver's type code is not known yet: a type whose reading depends on it
            # (numeric, for one) refuses None and keeps SQLAlchemy's path.
            readers = row_readers(entry.type._cached_result_processor(dialect, None)
                                  for entry in compiled._result_columns)
        except Exception:
            return None
    return _Plan(query, query.encode(), binding, readers)


def _plan_of(statement: Any, keys: frozenset[str], dialect: Dialect) -> _Plan | None:
    plans = _PLANS.get(dialect)
    if plans is None:
        plans = _PLANS[dialect] = {}
    key = (id(statement), keys)
    plan = plans.get(key, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = plans[key] = _plan(statement, keys, dialect)
    return plan  # type: ignore[return-value]


def _raw_cursor_class() -> Any:
    import psycopg

    return getattr(psycopg, "RawCursor", None)


def _cursor(connection: Connection, plan: _Plan) -> Any:
    """The raw cursor of ``plan`` on the connection's psycopg connection, made once and
    kept with the connection; None when this psycopg has none.

    A cursor per statement keeps psycopg's adaptation of its parameters from one call to
    the next (a cursor shared by several statements works it out again whenever the
    statement changes)."""
    driver = connection.connection.driver_connection
    kept = connection.info.get(_CURSOR)
    if kept is None or kept[0] is not driver:
        kept = connection.info[_CURSOR] = (driver, {})
    cursors: dict[int, Any] = kept[1]
    cursor = cursors.get(id(plan))
    if cursor is None:
        factory = _raw_cursor_class()
        if factory is None:
            return None
        cursor = cursors[id(plan)] = factory(driver)
    return cursor


def _forget_cursor(connection: Connection, plan: _Plan) -> None:
    kept = connection.info.get(_CURSOR)
    if kept is not None:
        cursor = kept[1].pop(id(plan), None)
        if cursor is not None:
            cursor.close()


def _takes_sqlalchemys_path(connection: Connection) -> bool:
    """Whether this connection asks for what only SQLAlchemy's path does."""
    if connection._execution_options or connection._echo:
        return True
    if connection._has_events or connection.engine._has_events:
        dispatch = connection.dispatch
        return bool(dispatch.before_execute or dispatch.after_execute)
    return False


def run_direct_postgresql(connection: Connection, statement: Any,
                          params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
                          ) -> DirectResult | None:
    """Run a :func:`~millstream.store.sql.direct_statements.direct` statement on the
    connection's psycopg cursor; None when it must take SQLAlchemy's path instead (the
    caller then runs it there). An error is raised as SQLAlchemy raises it."""
    if isinstance(params, Sequence):
        if len(params) != 1:
            return None  # many rows: SQLAlchemy sends them in one pipeline
        params = params[0]
    params = params or {}
    plan = _plan_of(statement, frozenset(params), connection.dialect)
    if plan is None or _takes_sqlalchemys_path(connection):
        return None
    cursor = _cursor(connection, plan)
    if cursor is None:
        return None
    try:
        values = plan.binding.values(params)
    except KeyError:  # a parameter is missing: SQLAlchemy says which
        return None
    except Exception as exc:  # a bind processor refused a value, as SQLAlchemy reports it
        connection._handle_dbapi_exception(exc, plan.sql, params, None, None)
    return _run(connection, cursor, plan, values)


def _run(connection: Connection, cursor: Any, plan: _Plan, values: tuple[Any, ...]
         ) -> DirectResult:
    events = connection._has_events or connection.engine._has_events
    sql, query = plan.sql, plan.query
    try:
        if events:  # the statement as sent: $n placeholders, values by position
            for listen in connection.dispatch.before_cursor_execute:
                sql, values = listen(connection, cursor, sql, values, None, False)
            if sql is not plan.sql:  # a listener rewrote it
                query = sql.encode()
        cursor.execute(query, values)
        if events:
            connection.dispatch.after_cursor_execute(connection, cursor, sql, values,
                                                     None, False)
        if plan.readers is None:
            return DirectResult([], cursor.rowcount)
        rows = cursor.fetchall()
        counted = cursor.rowcount
        if len(rows) > _KEPT_ROWS:  # its cursor would keep the rows until its next call
            _forget_cursor(connection, plan)
        return DirectResult(read_rows(rows, plan.readers), counted)
    except BaseException as exc:
        # SQLAlchemy's handling closes the cursor: the next call makes another.
        _forget_cursor(connection, plan)
        dbapi_error = isinstance(exc, connection.dialect.loaded_dbapi.Error)
        connection._handle_dbapi_exception(exc, sql if dbapi_error else None, values,
                                           cursor, None)


__all__ = ["numbered", "run_direct_postgresql"]
