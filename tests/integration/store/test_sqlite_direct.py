"""The statements run on SQLite's own cursor read and write what SQLAlchemy's path does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from tests.direct_cases import MOMENT, store_with_a_run

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey
from millstream.store.sql import SqlStore
from millstream.store.sql import repos as sql_repos
from millstream.store.sql.common import connection_of, execute
from millstream.store.sql.direct_statements import is_direct
from millstream.store.sql.sqlite_direct import run_direct


@pytest.fixture
def store(sqlite_engine: Engine) -> SqlStore:
    return store_with_a_run(sqlite_engine)


def test_a_compare_and_set_counts_the_rows_it_changed(store: SqlStore) -> None:
    key = TaskInstanceKey("etl", "manual__1", "load")
    params = {"k_dag_id": "etl", "k_run_id": "manual__1", "k_task_id": "load",
              "k_map_index": -1, "k_state": "none", "state": "scheduled"}
    with store.transaction():
        connection = connection_of(store.session)
        assert is_direct(sql_repos._TI_UPDATE)
        first = run_direct(connection, sql_repos._TI_UPDATE, params)
        again = run_direct(connection, sql_repos._TI_UPDATE, params)
        assert first is not None and again is not None
        assert (first.rowcount, again.rowcount) == (1, 0)
        ti = store.task_instances.get(key)
    assert ti is not None and ti.state is TaskState.SCHEDULED


def test_a_refused_statement_is_left_to_sqlalchemy_which_raises_its_error(
    store: SqlStore,
) -> None:
    row = {"dag_id": None, "run_id": "manual__1", "task_id": "load", "map_index": -1,
           "try_number": 1, "state": "success", "start_date": MOMENT, "end_date": MOMENT,
           "error": None}
    with store.transaction():
        assert run_direct(connection_of(store.session), sql_repos._TRY_INSERT, [row]) is None
    with pytest.raises(IntegrityError, match="NOT NULL"), store.transaction():
        execute(store.session, sql_repos._TRY_INSERT, [row])


def test_many_rows_are_left_to_sqlalchemy_and_read_back(store: SqlStore) -> None:
    """sqlite3 runs each row of many as its own statement: a refused row would leave the
    rows before it written, to be written again; so only one row goes the direct way."""
    rows = [{"dag_id": "etl", "run_id": "manual__1", "task_id": "load", "map_index": -1,
             "try_number": number, "state": "failed", "start_date": MOMENT,
             "end_date": MOMENT + timedelta(seconds=number), "error": f"try {number}"}
            for number in (1, 2)]
    with store.transaction():
        connection = connection_of(store.session)
        assert run_direct(connection, sql_repos._TRY_INSERT, rows) is None
        assert run_direct(connection, sql_repos._TRY_INSERT, rows[:1]) is not None
        execute(store.session, sql_repos._TRY_INSERT, rows[1:])
    with store.transaction():
        tries = store.task_instances.tries(TaskInstanceKey("etl", "manual__1", "load"))
    assert [(t.try_number, t.end_date, t.error) for t in tries] == [
        (1, MOMENT + timedelta(seconds=1), "try 1"), (2, MOMENT + timedelta(seconds=2), "try 2")]


def test_unmarked_statements_keep_sqlalchemys_path() -> None:
    assert not is_direct(sql_repos._TI_SCHEDULED_LOCKED)
    assert is_direct(sql_repos._TI_SCHEDULED)
