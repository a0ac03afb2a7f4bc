"""The statements run on psycopg's own cursor read and write what SQLAlchemy's path does,
fail as it fails, and are seen by the engine's listeners (the connection watchdog's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import IntegrityError, OperationalError
from tests.direct_cases import MOMENT, RUN, store_with_a_run

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord
from millstream.store.sql import SqlStore
from millstream.store.sql import repos as sql_repos
from millstream.store.sql.common import connection_of, execute
from millstream.store.sql.direct_statements import is_direct
from millstream.store.sql.pg_direct import run_direct_postgresql
from millstream.store.sql.watchdog import DatabaseWatchdog


@pytest.fixture
def store(clean_postgres_engine: Engine) -> Iterator[SqlStore]:
    store = store_with_a_run(clean_postgres_engine)
    yield store
    store.close()


def test_a_handoffs_statements_all_take_the_drivers_cursor(
    store: SqlStore, clean_postgres_engine: Engine,
) -> None:
    """Each statement of a chain's handoff (the run held with its instances, the outcome
    with its history row, the next task scheduled, the dispatch read, the claim) runs on
    psycopg's cursor: SQLAlchemy's path would give its listeners an execution context."""
    seen: list[tuple[str, bool]] = []

    def listen(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
               many: bool) -> None:
        seen.append((statement.split()[0], context is None))

    extract = TaskInstanceKey("etl", "manual__1", "extract")
    with store.transaction():
        ti = store.task_instances.get(extract)
        assert ti is not None
        ti = store.task_instances.set_state(ti, TaskState.SCHEDULED)
        queued = store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                            try_number=1)
        assert queued is not None
        running = store.task_instances.set_state(queued, TaskState.RUNNING, start_date=MOMENT)
    event.listen(clean_postgres_engine, "before_cursor_execute", listen)
    try:
        with store.transaction():
            instances, run = store.task_instances.for_run_holding_run(
                "etl", "manual__1", ["extract", "load"])
            assert run is not None and [i.task_id for i in instances] == ["extract", "load"]
            store.task_instances.end_try(running, TaskState.SUCCESS, end_date=MOMENT)
            load = store.task_instances.set_state(instances[1], TaskState.SCHEDULED)
            view = store.task_instances.dispatch_view([TaskState.QUEUED, TaskState.RUNNING], 4)
            assert view is not None and view[1] == [load]
            claimed = store.task_instances.claim(load, TaskState.SCHEDULED,
                                                 TaskState.QUEUED, try_number=1)
            assert claimed is not None
    finally:
        event.remove(clean_postgres_engine, "before_cursor_execute", listen)
    assert seen == [("WITH", True), ("WITH", True), ("UPDATE", True), ("WITH", True),
                    ("UPDATE", True)]
    with store.transaction():
        assert store.task_instances.tries(extract)[0].state is TaskState.SUCCESS
        stored = store.task_instances.get(load.key)
    assert stored is not None and stored.state is TaskState.QUEUED


def _broken_try_row() -> dict[str, Any]:
    return {"dag_id": None, "run_id": "manual__1", "task_id": "load", "map_index": -1,
            "try_number": 1, "state": "success", "start_date": MOMENT, "end_date": MOMENT,
            "error": None}


def test_a_refused_statement_raises_sqlalchemys_error_through_its_listeners(
    store: SqlStore, clean_postgres_engine: Engine,
) -> None:
    errors: list[ExceptionContext] = []

    def on_error(context: ExceptionContext) -> None:
        errors.append(context)

    assert is_direct(sql_repos._TRY_INSERT)
    event.listen(clean_postgres_engine, "handle_error", on_error)
    try:
        with pytest.raises(IntegrityError, match="not-null") as raised, store.transaction():
            run_direct_postgresql(connection_of(store.session), sql_repos._TRY_INSERT,
                                  [_broken_try_row()])
    finally:
        event.remove(clean_postgres_engine, "handle_error", on_error)
    assert isinstance(raised.value.orig, psycopg.errors.NotNullViolation)
    assert [type(c.original_exception) for c in errors] == [psycopg.errors.NotNullViolation]
    assert errors[0].is_disconnect is False
    # The transaction was rolled back; the connection and the statement serve again.
    row = {**_broken_try_row(), "dag_id": "etl"}
    with store.transaction():
        execute(store.session, sql_repos._TRY_INSERT, [row])
    with store.transaction():
        assert len(store.task_instances.tries(TaskInstanceKey("etl", "manual__1", "load"))) == 1


def test_a_lost_connection_is_invalidated_and_the_watchdog_hears_of_it(
    store: SqlStore, clean_postgres_engine: Engine,
) -> None:
    watchdog = DatabaseWatchdog(clean_postgres_engine, "tester")  # listeners, no thread
    key = {**RUN, "k_task_id": "load", "k_map_index": -1}
    try:
        with pytest.raises(OperationalError) as raised, store.transaction():
            connection = connection_of(store.session)
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with clean_postgres_engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            run_direct_postgresql(connection, sql_repos._TI_GET, key)
        assert raised.value.connection_invalidated
        assert watchdog.outages == 1 and watchdog.in_outage
        with store.transaction():  # a new connection; its first answer ends the outage
            found = run_direct_postgresql(connection_of(store.session), sql_repos._TI_GET,
                                          key)
            assert found is not None and found.first() is not None
        assert not watchdog.in_outage
    finally:
        watchdog.stop()


def test_what_the_direct_path_does_not_do_is_left_to_sqlalchemy(
    store: SqlStore, clean_postgres_engine: Engine,
) -> None:
    rows = [{**_broken_try_row(), "dag_id": "etl", "try_number": number}
            for number in (1, 2)]
    key = {**RUN, "k_task_id": "load", "k_map_index": -1}
    with store.transaction():
        connection = connection_of(store.session)
        assert run_direct_postgresql(connection, sql_repos._TRY_INSERT, rows) is None
        assert run_direct_postgresql(connection, sql_repos._TI_GET, RUN) is None  # missing
        assert run_direct_postgresql(connection, sql_repos._TI_GET, key) is not None
        # (execution options are set on the connection itself, for the rest of it)
        assert run_direct_postgresql(connection.execution_options(logging_token="x"),
                                     sql_repos._TI_GET, key) is None

    def before_execute(*args: Any) -> None:
        pass

    event.listen(clean_postgres_engine, "before_execute", before_execute)
    try:
        with store.transaction():
            assert run_direct_postgresql(connection_of(store.session), sql_repos._TI_GET,
                                         key) is None
    finally:
        event.remove(clean_postgres_engine, "before_execute", before_execute)


def test_a_long_read_is_read_whole_every_time(store: SqlStore) -> None:
    """A cursor that read many rows is let go with them; the next call makes another."""
    with store.transaction():
        store.task_instances.add_many([TaskInstanceRecord("etl", "manual__1", f"t{i:03d}")
                                       for i in range(150)])
    with store.transaction():
        connection = connection_of(store.session)
        reads = [run_direct_postgresql(connection, sql_repos._TI_FOR_RUN, RUN)
                 for _ in range(2)]
        through = [tuple(row) for row in connection.execute(sql_repos._TI_FOR_RUN, RUN)]
    assert all(read is not None and read.all() == through for read in reads)
    assert len(through) == 152
