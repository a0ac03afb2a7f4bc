"""What the store's two direct paths share: the mark on a statement that may run on the
driver's own cursor, how its parameters are bound and its rows read, and the result
they give back.

Each database has its path (:mod:`~millstream.store.sql.sqlite_direct`,
:mod:`~millstream.store.sql.pg_direct`): a statement marked with :func:`direct` is
compiled by SQLAlchemy once, then run with SQLAlchemy's own bind and result processors
(datetimes, JSON) on a cursor of the driver's connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

_S = TypeVar("_S")
_DIRECT: dict[int, object] = {}  # id -> the statement itself (kept, so no id is reused)
Processor = Callable[[Any], Any] | None
Readers = tuple[tuple[int, Callable[[Any], Any]], ...]
"""The result columns whose values a processor reads, by position."""


def direct(statement: _S) -> _S:
    """Mark a statement built once (a module constant) to run on the driver's own cursor."""
    _DIRECT[id(statement)] = statement
    return statement


def is_direct(statement: object) -> bool:
    """Whether :func:`direct` marked ``statement``."""
    return _DIRECT.get(id(statement)) is statement


_NEEDED = object()


@dataclass(frozen=True, slots=True)
class Binding:
    """How a compiled statement's parameters become the values the driver is sent."""

    names: tuple[str, ...]  # the parameter at each position
    fixed: tuple[Any, ...]  # a literal's value by position; _NEEDED where a parameter goes
    binders: tuple[Processor, ...]

    @classmethod
    def of(cls, compiled: Any, names: tuple[str, ...], keys: frozenset[str]
           ) -> Binding | None:
        """The binding of ``compiled`` whose positions take ``names``, called with the
        parameters ``keys``; None when SQLAlchemy works a value out per execution
        (Python-side column defaults, expanding or computed parameters)."""
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch",
                                                                 None):
            return None
        binds = compiled.binds
        if any(name not in binds or binds[name].expanding or binds[name].callable
               for name in names):
            return None
        fixed = tuple(_NEEDED if name in keys or binds[name].required else binds[name].value
                      for name in names)
        processors = compiled._bind_processors
        return cls(names, fixed, tuple(processors.get(name) for name in names))

    def values(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        """The values to send (KeyError names a missing parameter)."""
        values = []
        for name, value, binder in zip(self.names, self.fixed, self.binders, strict=True):
            if value is _NEEDED:
                value = params[name]
            values.append(value if binder is None else binder(value))
        return tuple(values)


def row_readers(processors: Iterable[Processor]) -> Readers:
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


def read_rows(rows: list[tuple[Any, ...]], readers: Readers) -> list[tuple[Any, ...]]:
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


__all__ = ["Binding", "DirectResult", "Readers", "direct", "is_direct", "read_rows",
           "row_readers"]
