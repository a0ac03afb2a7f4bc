"""Helpers the SQL repositories share: upserts, row counts, and turning conflicts into errors."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from millstream.exceptions import ConflictError
from millstream.store.records import TaskInstanceKey
from millstream.store.sql.direct_statements import is_direct
from millstream.store.sql.pg_checkout import begun_at_checkout
from millstream.store.sql.pg_direct import run_direct_postgresql
from millstream.store.sql.sqlite_direct import run_direct

_CONNECTION = "millstream.connection"
_DIRECT_PATHS = {"sqlite": run_direct, "postgresql": run_direct_postgresql}
"""The driver's own path for marked statements, by dialect name."""


def connection_of(session: Session) -> Connection:
    """The connection of ``session``'s transaction, kept while the same (nested)
    transaction lasts.

    ``Session.connection()`` walks the ORM's transaction state on every call, about a
    tenth of a scheduler tick's CPU when asked once per statement. It is asked again when
    a savepoint begins or ends (``begin_nested``), since the session emits the
    ``SAVEPOINT`` only when its connection is asked for; the store forgets the kept
    connection when its transaction ends (:func:`forget_connection`).
    """
    nested = session.get_nested_transaction()
    kept = session.info.get(_CONNECTION)
    if kept is None or kept[0] is not nested:
        with begun_at_checkout():  # on PostgreSQL its BEGIN is its check (pg_checkout)
            kept = session.info[_CONNECTION] = (nested, session.connection())
    return cast(Connection, kept[1])


def forget_connection(session: Session) -> None:
    """Drop the connection :func:`connection_of` kept: the transaction has ended."""
    session.info.pop(_CONNECTION, None)


def by_ti_key(table: Table) -> Any:
    """WHERE the task instance key equals the k_dag_id, k_run_id, k_task_id, k_map_index params."""
    return (
        (table.c.dag_id == bindparam("k_dag_id"))
        & (table.c.run_id == bindparam("k_run_id"))
        & (table.c.task_id == bindparam("k_task_id"))
        & (table.c.map_index == bindparam("k_map_index"))
    )


def by_run_key(table: Table) -> Any:
    """WHERE the run key equals the k_dag_id and k_run_id params."""
    return (table.c.dag_id == bindparam("k_dag_id")) & (table.c.run_id == bindparam("k_run_id"))


def checked_state(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    """``column = value`` as the check of a compare-and-set on a row found by its key,
    written so that no index on the state can be chosen to find the row.

    PostgreSQL estimates how many rows hold a state from the statistics it took when the
    table was last analyzed. Just after a run's instances are added, ``none`` looks rare
    (the instances analyzed had finished), so the planner finds the row to change through
    the state index and filters by key: it reads every instance of the new runs, for each
    one a tick changes (0.7 ms a change with 10,000 instances; quadratic in a run's
    size). Comparing ``state || ''`` leaves it the key's index.
    """
    checked: ColumnElement[bool] = column.concat(literal_column("''")) == value
    return checked


def ti_key_params(key: TaskInstanceKey) -> dict[str, Any]:
    """The parameters of :func:`by_ti_key` for ``key``."""
    return {"k_dag_id": key.dag_id, "k_run_id": key.run_id, "k_task_id": key.task_id,
            "k_map_index": key.map_index}


def execute(session: Session, statement: Any, params: Any = None) -> Any:
    """Run a Core statement on the session's connection: the session's own execute path
    adds ORM checks that cost about a quarter of a short statement and do nothing here.
    A statement marked :func:`~millstream.store.sql.direct_statements.direct` runs on the
    driver's cursor (SQLite and PostgreSQL)."""
    connection = connection_of(session)
    if is_direct(statement) and (path := _DIRECT_PATHS.get(connection.dialect.name)):
        result = path(connection, statement, params)
        if result is not None:
            return result
    return connection.execute(statement, params)


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN (the values of the parameter name)``, as SQL that stays the same for any
    number of values; pass the values through :func:`one_of_values`.

    An expanding ``IN`` is rendered again for every call, and on SQLite prepared again:
    about 0.15 ms a statement, twice in every handoff of a chain. SQLite reads the values
    from a JSON array, PostgreSQL from an array parameter; other databases expand.
    """
    if dialect == "sqlite":
        values = func.json_each(bindparam(name, type_=String)).table_valued("value")
        return column.in_(select(values.c.value))
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


def one_of_values(values: Collection[str], dialect: str) -> Any:
    """The parameter value of a :func:`one_of` condition on ``dialect``."""
    return json.dumps(list(values)) if dialect == "sqlite" else list(values)


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
