"""A DAG's active runs and a run's unfinished instances are found in indexes that hold no
history (migration 0013), by the statements the store really sends (SQLite and
PostgreSQL, the latter with the generic plan a prepared statement gets)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.sql import Literal
from sqlalchemy import Connection, Engine, event, text

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from millstream.store.sql import SqlStore
from millstream.store.sql.active_rows import ACTIVE_RUN_CONDITION, UNFINISHED_TI_CONDITION
from millstream.store.sql.common import connection_of
from millstream.store.sql.migrate import MIGRATIONS_DIR

DAY = datetime(2026, 1, 1, tzinfo=UTC)
HISTORY = 300
OTHERS = 40
NEW_INSTANCES = 400
FINISHED_RUNS = 25
TASKS = ("extract", "load")


def _run(dag_id: str, minute: int, state: DagRunState) -> DagRunRecord:
    logical = DAY + timedelta(minutes=minute)
    return DagRunRecord(dag_id=dag_id, run_id=f"scheduled__{logical.isoformat()}",
                        logical_date=logical, data_interval_start=logical,
                        data_interval_end=logical + timedelta(minutes=1),
                        run_type="scheduled", state=state)


def _fill(store: SqlStore) -> tuple[DagRunRecord, DagRunRecord]:
    """A DAG with a long finished history, then one queued and one running run; other
    DAGs with one queued run each. Returns the first DAG's queued and running runs."""
    others = [f"other_{index:02d}" for index in range(OTHERS)]
    with store.transaction():
        for dag_id in ("etl", *others):
            store.dags.upsert(dag_id, f"/dags/{dag_id}.py", "{}", "v1", DAY)
        runs = [_run("etl", minute, DagRunState.SUCCESS) for minute in range(HISTORY)]
        queued = _run("etl", HISTORY, DagRunState.QUEUED)
        running = _run("etl", HISTORY + 1, DagRunState.RUNNING)
        added = store.runs.add_new([*runs, queued, running,
                                    *(_run(dag_id, 0, DagRunState.QUEUED) for dag_id in others)])
        store.task_instances.add_to_new_runs(
            TaskInstanceRecord(run.dag_id, run.run_id, task_id,
                               state=TaskState.SUCCESS if run in runs else TaskState.SCHEDULED)
            for run in added for task_id in TASKS)
    return queued, running


@contextmanager
def _sent(store: SqlStore) -> Iterator[list[tuple[str, Any]]]:
    """The statements ``store`` sends on the connection of its open transaction (SQLite:
    as its driver runs them, values written in; PostgreSQL: with their parameters)."""
    connection = connection_of(store.session)
    sent: list[tuple[str, Any]] = []
    if connection.dialect.name == "sqlite":
        driver = connection.connection.driver_connection
        driver.set_trace_callback(lambda statement: sent.append((statement, None)))
        try:
            yield sent
        finally:
            driver.set_trace_callback(None)
        return

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        yield sent
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)


def _plan_sqlite(connection: Connection, statement: str) -> str:
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}")
    return " | ".join(str(row[-1]) for row in rows)


def _rows_read_postgres(connection: Connection, statement: str, parameters: Any,
                        table: str, plan: str = "generic") -> int:
    """How many rows of ``table`` running ``statement`` reads (those it keeps and those its
    filters drop), prepared and run with a generic plan: one that holds for any value of
    its parameters, as PostgreSQL uses for a statement the driver has prepared (or, with
    ``plan="custom"``, one made for the values given, as for its first executions).

    ``statement`` is as the driver was given it: with ``%(name)s`` placeholders and a
    dict of parameters (SQLAlchemy's path), or ``$n`` and their values in order (the
    direct path)."""
    names: list[Any] = []  # a name, or a position

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    if isinstance(parameters, dict):
        numbered = re.sub(r"%\((\w+)\)s", number, statement)
    else:
        numbered, names = statement, list(range(len(parameters)))
    connection.exec_driver_sql(f"SET LOCAL plan_cache_mode = force_{plan}_plan")
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql(f"PREPARE probe AS {numbered}")
    try:
        types = connection.exec_driver_sql(
            "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'probe'"
        ).scalar_one()
        driver = connection.connection.driver_connection
        arguments = ", ".join(f"{Literal(parameters[name]).as_string(driver)}::{kind}"
                              for name, kind in zip(names, types, strict=True))
        [plan] = connection.exec_driver_sql(
            f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE probe({arguments})").scalar_one()
    finally:
        connection.exec_driver_sql("DEALLOCATE probe")

    def read(node: dict[str, Any]) -> int:
        own = 0
        if node.get("Relation Name") == table:
            own = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
                   + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
        return own + sum(read(child) for child in node.get("Plans", []))

    return read(plan["Plan"])


def _check(store: SqlStore, call: Callable[[], object], table: str, index: str,
           most_rows: int) -> object:
    """What ``call`` returns, having checked each statement it sent about ``table``: on
    SQLite its plan reads ``index`` and sorts nothing; on PostgreSQL it reads no more
    than ``most_rows`` rows of the table."""
    with store.transaction():
        with _sent(store) as sent:
            result = call()
        connection = connection_of(store.session)
        about = [(statement, parameters) for statement, parameters in sent
                 if re.search(rf"\bFROM {table}\b", statement)]
        assert about, sent
        for statement, parameters in about:
            if connection.dialect.name == "sqlite":
                plan = _plan_sqlite(connection, statement)
                assert f"INDEX {index} " in plan, plan
                assert "TEMP B-TREE" not in plan, plan
            else:
                assert _rows_read_postgres(connection, statement, parameters, table) \
                    <= most_rows, statement
    return result


def _analyzed(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE dag_run"))
            connection.execute(text("ANALYZE task_instance"))


def test_a_dags_active_runs_are_read_from_the_index_of_active_runs(sql_engine: Engine) -> None:
    """Not one run of the DAG's history is read (PostgreSQL may read the other DAGs'
    active runs instead, by state, when it does not know how many DAGs are asked about)."""
    store = SqlStore(sql_engine)
    try:
        queued, running = _fill(store)
        _analyzed(sql_engine)
        for states, expected in (([DagRunState.RUNNING], [running]),
                                 ([DagRunState.QUEUED, DagRunState.RUNNING], [queued, running])):
            found = _check(store, lambda s=states: store.runs.list("etl", s), "dag_run",
                           "ix_dag_run_active", len(expected))
            assert [run.run_id for run in found] == [run.run_id for run in expected]  # type: ignore[attr-defined]
        counts = _check(store, lambda: store.runs.active_counts(["etl", "other_00"]),
                        "dag_run", "ix_dag_run_active", 2 + OTHERS)
        assert counts == {"etl": 2, "other_00": 1}
    finally:
        store.close()


def test_a_runs_unfinished_instances_are_read_from_the_index_of_unfinished_ones(
    sql_engine: Engine,
) -> None:
    store = SqlStore(sql_engine)
    try:
        queued, _ = _fill(store)
        finished = _run("etl", 0, DagRunState.SUCCESS)
        _analyzed(sql_engine)
        assert _check(store, lambda: store.task_instances.has_unfinished("etl", queued.run_id),
                      "task_instance", "ix_task_instance_unfinished", 1) is True
        assert _check(store,
                      lambda: store.task_instances.has_unfinished("etl", finished.run_id),
                      "task_instance", "ix_task_instance_unfinished", 0) is False
    finally:
        store.close()


def test_the_migration_creates_the_indexes_on_the_conditions_the_store_repeats() -> None:
    spec = importlib.util.spec_from_file_location(
        "active_row_indexes", MIGRATIONS_DIR / "versions" / "0013_active_row_indexes.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.ACTIVE_RUN == ACTIVE_RUN_CONDITION
    assert migration.UNFINISHED_INSTANCE == UNFINISHED_TI_CONDITION


def test_writing_instances_builds_no_temporary_table_on_sqlite(sqlite_engine: Engine) -> None:
    """SQLite evaluates the partial indexes' conditions for each row written: a list of
    more than two states there would build a temporary table on each insert and update."""
    store = SqlStore(sqlite_engine)
    try:
        queued, _ = _fill(store)
        with store.transaction():
            with _sent(store) as sent:
                [ti, *_] = store.task_instances.for_run("etl", queued.run_id)
                store.task_instances.set_state(ti, TaskState.QUEUED)
                [run] = store.runs.add_new([_run("etl", HISTORY + 2, DagRunState.QUEUED)])
                store.task_instances.add_to_new_runs([TaskInstanceRecord("etl", run.run_id, "t")])
                store.runs.set_state(run, DagRunState.RUNNING)
            connection = connection_of(store.session)
            # (SQLite reports a statement again for each trigger program it runs; the
            # insert of runs returns what it added, through a temporary table of its own)
            writes = list(dict.fromkeys(
                statement for statement, _ in sent
                if statement.startswith(("INSERT INTO task_instance", "UPDATE task_instance",
                                         "UPDATE dag_run"))))
            assert len(writes) == 3, writes
            for statement in writes:
                program = connection.exec_driver_sql(f"EXPLAIN {statement}").all()
                assert "OpenEphemeral" not in {row[1] for row in program}, statement
    finally:
        store.close()


def test_a_compare_and_set_finds_its_row_by_key_however_rare_its_state_looks(
    sql_engine: Engine,
) -> None:
    """Statistics taken while every instance had finished make ``none``, ``queued`` and
    the rest look rare. A new run's instances are then changed one by one: each change
    must read its own row through the key, not every instance in its state (on
    PostgreSQL that read all of a new run's instances for each one a tick changed)."""
    store = SqlStore(sql_engine)
    try:
        _fill(store)
        with store.transaction():  # a longer history, every instance of it finished
            store.dags.upsert("history", "/dags/history.py", "{}", "v1", DAY)
            runs = store.runs.add_new([_run("history", minute, DagRunState.SUCCESS)
                                       for minute in range(FINISHED_RUNS)])
            store.task_instances.add_to_new_runs(
                TaskInstanceRecord(run.dag_id, run.run_id, f"t{index:03d}",
                                   state=TaskState.SUCCESS)
                for run in runs for index in range(NEW_INSTANCES))
        with sql_engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        [run] = _added(store)
        with store.transaction():
            with _sent(store) as sent:
                ti = store.task_instances.get(TaskInstanceKey("etl", run.run_id, "t000"))
                assert ti is not None
                ti = store.task_instances.set_state(ti, TaskState.SCHEDULED)
                ti = store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                                try_number=1)
                assert ti is not None
                assert store.task_instances.mark_running(ti.key, 1, DAY, "host", 1)
                store.task_instances.end_try(replace(ti, state=TaskState.RUNNING),
                                             TaskState.SUCCESS, end_date=DAY)
                store.runs.set_state(run, DagRunState.RUNNING)
            connection = connection_of(store.session)
            # (SQLite reports a statement again for each trigger program it runs)
            changes = list({statement: parameters for statement, parameters in sent
                            if re.match(r"(WITH .*)?UPDATE (task_instance|dag_run)\b",
                                        statement, re.DOTALL)}.items())
            assert len(changes) == 5, changes
            for statement, parameters in changes:
                table = "dag_run" if "UPDATE dag_run" in statement else "task_instance"
                if connection.dialect.name == "sqlite":
                    plan = _plan_sqlite(connection, statement)
                    assert f"USING INDEX sqlite_autoindex_{table}_1 " in plan, plan
                    continue
                for kind in ("custom", "generic"):
                    assert _rows_read_postgres(connection, statement, parameters, table,
                                               kind) <= 1, (kind, statement)
    finally:
        store.close()


def _added(store: SqlStore) -> list[DagRunRecord]:
    """A new queued run of many instances, added after the statistics were taken."""
    with store.transaction():
        added = store.runs.add_new([_run("etl", HISTORY + 5, DagRunState.QUEUED)])
        store.task_instances.add_to_new_runs(
            TaskInstanceRecord("etl", added[0].run_id, f"t{index:03d}")
            for index in range(NEW_INSTANCES))
    return added
