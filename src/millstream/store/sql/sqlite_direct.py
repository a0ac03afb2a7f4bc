"""The scheduler's hottest statements, run on SQLite's own cursor.

A short statement through SQLAlchemy's ``Connection.execute`` costs about 50 µs of CPU,
most of it building an execution context and a result object; the same statement on the
``sqlite3`` cursor costs about 10 µs. A chain's handoff runs eight of them, so the
statements marked here with :func:`direct` are compiled by SQLAlchemy once (per set of
parameter names: an UPDATE's SET clause follows them), then run with SQLAlchemy's own
bind and result processors (datetimes, JSON) on a cursor kept per connection.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Dialect

_S = TypeVar("_S")
_DIRECT: dict[int, object] = {}  # id -> the statement itself (kept, so no id is reused)
_CURSOR = "millstream.sqlite_cursor"
Processor = Callable[[Any], Any] | None


def direct(statement: _S) -> _S:
    """Mark a statement built once (a module constant) to run on the driver's own cursor
    (SQLite here, PostgreSQL in :mod:`~millstream.store.sql.pg_direct`)."""
    _DIRECT[id(statement)] = statement
    return statement


def is_direct(statement: object) -> bool:
    """Whether :func:`direct` marked ``statement``."""
    return _DIRECT.get(id(statement)) is statement


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]
    fixed: tuple[Any, ...]  # a literal's value by position; _NEEDED where a parameter goes
    binders: tuple[Processor, ...]
    readers: tuple[tuple[int, Callable[[Any], Any]], ...] | None  # None: returns no rows


_NEEDED = object()
_PLANS: dict[tuple[int, frozenset[str]], _Plan | None] = {}


def _plan(statement: Any, keys: frozenset[str], dialect: Dialect) -> _Plan | None:
    compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))
    if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
        return None  # Python-side defaults: SQLAlchemy works them out per execution
    binds = compiled.binds
    names = tuple(compiled.positiontup or ())
    if any(binds[name].expanding or binds[name].callable for name in names):
        return None
    fixed = tuple(_NEEDED if name in keys or binds[name].required else binds[name].value
                  for name in names)
    processors = compiled._bind_processors
    binders = tuple(processors.get(name) for name in names)
    readers: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None
    if compiled._result_columns:
        readers = row_readers(entry.type._cached_result_processor(dialect, None)
                           for entry in compiled._result_columns)
    return _Plan(str(compiled), names, fixed, binders, readers)


def row_readers(processors: Iterator[Processor]) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The columns whose values a processor turns into something else, by position.

    Most columns (text, numbers) have none, and most datetimes read are NULL: a row is
    read by changing only the values that need it rather than passing every value
    through. A processor that gives NULL back for NULL (as the store's types do) is left
    out for NULL values; one that makes something of NULL is called for every value.
    """
    readers = []
    for at, processor in enumerate(processors):
        if processor is not None:
            readers.append((at, processor if processor(None) is None else _Always(processor)))
    return tuple(readers)


class _Always:
    """A processor called for NULL values too (the reading loop skips NULL otherwise)."""

    __slots__ = ("processor",)

    def __init__(self, processor: Callable[[Any], Any]) -> None:
        self.processor = processor

    def __call__(self, value: Any) -> Any:
        return self.processor(value)



def _cursor(connection: Connection) -> sqlite3.Cursor:
    """A cursor of the connection's sqlite3 connection, made once and kept with it."""
    driver = connection.connection.driver_connection
    kept = connection.info.get(_CURSOR)
    if kept is None or kept[0] is not driver:
        kept = connection.info[_CURSOR] = (driver, driver.cursor())  # type: ignore[union-attr]
    cursor: sqlite3.Cursor = kept[1]
    return cursor


class DirectResult:
    """The part of SQLAlchemy's result the store reads: rows as tuples, ``first``,
    ``scalar`` and ``rowcount``."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def all(self) -> list[tuple[Any, ...]]:
        return list(self._rows)


def _values(plan: _Plan, params: Mapping[str, Any]) -> tuple[Any, ...]:
    values = []
    for name, value, binder in zip(plan.names, plan.fixed, plan.binders, strict=True):
        if value is _NEEDED:
            value = params[name]
        values.append(value if binder is None else binder(value))
    return tuple(values)


def run_direct(connection: Connection, statement: Any,
               params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
               ) -> DirectResult | None:
    """Run a :func:`direct` statement on the connection's sqlite3 cursor; None when it
    must take SQLAlchemy's path instead (the caller then runs it there), as when the
    database refused it."""
    if isinstance(params, Sequence):
        # One row only: sqlite3 runs each row of many as a statement of its own, so rows
        # before a refused one would stay written and be written again by SQLAlchemy.
        if len(params) != 1:
            return None
        params = params[0]
    params = params or {}
    key = (id(statement), frozenset(params))
    plan = _PLANS.get(key, _NEEDED)
    if plan is _NEEDED:
        plan = _PLANS[key] = _plan(statement, key[1], connection.dialect)
    if not isinstance(plan, _Plan):
        return None
    try:
        values = _values(plan, params)
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


def read_rows(rows: list[tuple[Any, ...]],
              readers: tuple[tuple[int, Callable[[Any], Any]], ...]) -> list[tuple[Any, ...]]:
    """``rows`` with the values of the :func:`row_readers` columns read."""
    if not readers:
        return rows
    read = []
    for row in rows:
        values = list(row)
        for at, reader in readers:
            value = values[at]
            if value is not None or type(reader) is _Always:
                values[at] = reader(value)
        read.append(tuple(values))
    return read


__all__ = ["DirectResult", "direct", "is_direct", "read_rows", "row_readers", "run_direct"]
