"""On both direct paths (SQLite's and PostgreSQL's) a row is read as SQLAlchemy reads it:
the same values and types, although only the columns with a processor are visited and
NULL is mostly passed over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, String, TypeDecorator, bindparam, select, type_coerce
from tests.direct_cases import MOMENT, RUN, store_with_a_run

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey
from millstream.store.sql import SqlStore
from millstream.store.sql import repos as sql_repos
from millstream.store.sql.common import connection_of
from millstream.store.sql.convert import TI_TABLE
from millstream.store.sql.direct_statements import DirectResult, direct
from millstream.store.sql.dispatch_reads import _VIEW
from millstream.store.sql.held_reads import _HELD
from millstream.store.sql.pg_direct import run_direct_postgresql
from millstream.store.sql.sqlite_direct import run_direct


class _NullAsWord(TypeDecorator[str]):
    """A column type that reads NULL as a word (as a user type might)."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str:
        return "nobody" if value is None else f"host {value}"


_HOSTS = direct(select(TI_TABLE.c.task_id, type_coerce(TI_TABLE.c.hostname, _NullAsWord()),
                       TI_TABLE.c.start_date)
                .where(TI_TABLE.c.dag_id == bindparam("dag_id"))
                .order_by(TI_TABLE.c.task_id))


@pytest.fixture
def store(sql_engine: Engine) -> Iterator[SqlStore]:
    """A store on either database, holding a running run of two instances."""
    store = store_with_a_run(sql_engine)
    yield store
    store.close()


def _both_ways(store: SqlStore, statement: Any, params: dict[str, Any]) -> tuple[Any, Any]:
    """The rows of ``statement`` run on the driver's path and through SQLAlchemy, in the
    store's open transaction."""
    connection = connection_of(store.session)
    path = run_direct if connection.dialect.name == "sqlite" else run_direct_postgresql
    read = path(connection, statement, params)
    assert isinstance(read, DirectResult)  # it did take the direct path
    return read.all(), [tuple(row) for row in connection.execute(statement, params)]


def test_reads_give_the_same_values_and_types_as_sqlalchemy(store: SqlStore) -> None:
    key = TaskInstanceKey("etl", "manual__1", "extract")
    with store.transaction():
        ti = store.task_instances.get(key)
        assert ti is not None
        scheduled = store.task_instances.set_state(ti, TaskState.SCHEDULED)
        queued = store.task_instances.claim(
            scheduled, TaskState.SCHEDULED, TaskState.QUEUED, try_number=1, step_id="s1")
        assert queued is not None
        store.task_instances.set_state(
            queued, TaskState.DEFERRED, start_date=MOMENT, next_method="resume",
            next_kwargs={"event": [1, "two", None]}, trigger_timeout=MOMENT)
    with store.transaction():
        direct_rows, through = _both_ways(store, sql_repos._TI_GET,
                                          {**RUN, "k_task_id": "extract", "k_map_index": -1})
        assert direct_rows == through
        row = direct_rows[0]
        assert MOMENT in row and all(
            value.tzinfo is UTC for value in row if isinstance(value, datetime))
        assert {"event": [1, "two", None]} in row
        run_rows = _both_ways(store, sql_repos._RUN_GET, RUN)
        assert run_rows[0] == run_rows[1] and {"region": "eu"} in run_rows[0][0]
        if connection_of(store.session).dialect.name == "postgresql":  # its own statements
            held = _both_ways(store, _HELD, {**RUN, "task_ids": ["extract", "load"]})
            assert held[0] == held[1] and len(held[0]) == 2 and {"region": "eu"} in held[0][0]
            view = _both_ways(store, _VIEW, {"states": ["deferred"], "limit": 4})
            assert view[0] == view[1] and [row[0] for row in view[0]] == [True]


def test_a_processor_is_called_for_null_only_if_it_makes_something_of_it(
        store: SqlStore) -> None:
    with store.transaction():
        ti = store.task_instances.get(TaskInstanceKey("etl", "manual__1", "load"))
        assert ti is not None
        store.task_instances.set_state(ti, TaskState.SCHEDULED, hostname="worker-1",
                                       start_date=MOMENT)
    with store.transaction():
        direct_rows, through = _both_ways(store, _HOSTS, {"dag_id": "etl"})
    assert direct_rows == through == [("extract", "nobody", None),
                                      ("load", "host worker-1", MOMENT)]
