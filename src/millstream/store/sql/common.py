"""Helpers the SQL repositories share: upserts, row counts, and turning conflicts into errors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from millstream.exceptions import ConflictError

_CONNECTION = "millstream.connection"


def connection_of(session: Session) -> Connection:
    """The connection of ``session``'s transaction, kept for the transaction's length.

    ``Session.connection()`` walks the ORM's transaction state on every call, about a
    tenth of a scheduler tick's CPU when asked once per statement; the store forgets the
    kept connection when its transaction ends (:func:`forget_connection`).
    """
    connection = session.info.get(_CONNECTION)
    if connection is None:
        connection = session.info[_CONNECTION] = session.connection()
    return cast(Connection, connection)


def forget_connection(session: Session) -> None:
    """Drop the connection :func:`connection_of` kept: the transaction has ended."""
    session.info.pop(_CONNECTION, None)


def rowcount(result: object) -> int:
    """How many rows an UPDATE or DELETE changed."""
    return cast(CursorResult[Any], result).rowcount


@contextmanager
def conflicts_as_value_error(session: Session, message: str,
                             sqlite_atomic: bool = False) -> Iterator[None]:
    """Run inserts in a savepoint; a unique or foreign-key violation becomes ConflictError
    (a ValueError).

    The savepoint keeps the surrounding transaction usable (PostgreSQL aborts a
    transaction on any error otherwise). SQLite undoes only the failing statement: inserts
    that are ``sqlite_atomic`` there (one row, or rows whose conflicts were checked first
    under SQLite's single writer) need no savepoint, two statements fewer.
    """
    if sqlite_atomic and session.get_bind().dialect.name == "sqlite":
        try:
            yield
        except IntegrityError as exc:
            raise ConflictError(f"{message}: {exc.orig}") from None
        return
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        raise ConflictError(f"{message}: {exc.orig}") from None


def insert_or_update(session: Session, table: Table) -> Any:
    """The database's own INSERT for ``table``, which has ``on_conflict_do_*``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for database {dialect!r}")


def upsert(session: Session, table: Table, keys: Sequence[str], changed: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET changed (or DO NOTHING if none changes)."""
    statement = insert_or_update(session, table)
    if not changed:
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={c: statement.excluded[c] for c in changed}
    )
