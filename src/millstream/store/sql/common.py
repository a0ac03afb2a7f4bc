"""Helpers the SQL repositories share: upserts, row counts, and turning conflicts into errors."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from millstream.exceptions import ConflictError


def rowcount(result: object) -> int:
    """How many rows an UPDATE or DELETE changed."""
    return cast(CursorResult[Any], result).rowcount


@contextmanager
def conflicts_as_value_error(session: Session, message: str) -> Iterator[None]:
    """Run inserts in a savepoint; a unique or foreign-key violation becomes ConflictError
    (a ValueError).

    The savepoint keeps the surrounding transaction usable (PostgreSQL aborts a
    transaction on any error otherwise).
    """
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        raise ConflictError(f"{message}: {exc.orig}") from None


def upsert(session: Session, table: Table, keys: Sequence[str], changed: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET changed (or DO NOTHING if none changes)."""
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(table)
    elif dialect == "sqlite":
        statement = sqlite.insert(table)
    else:
        raise NotImplementedError(f"no upsert for database {dialect!r}")
    if not changed:
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={c: statement.excluded[c] for c in changed}
    )
