"""The store contract for adding many new runs at once (every store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from millstream.exceptions import ConflictError
from millstream.model.states import DagRunState, TaskState
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.store.sql import SqlStore

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _run(dag_id: str, day: int, run_type: str = "scheduled") -> DagRunRecord:
    logical = DAY + timedelta(days=day)
    return DagRunRecord(dag_id=dag_id, run_id=f"{run_type}__{logical.isoformat()}",
                        logical_date=logical, data_interval_start=logical,
                        data_interval_end=logical + timedelta(days=1), run_type=run_type,
                        queued_at=DAY)


def _dags(store: Store, *dag_ids: str) -> None:
    for dag_id in dag_ids:
        store.dags.upsert(dag_id, f"/dags/{dag_id}.py", "{}", "v1", DAY)


def test_add_new_passes_over_the_runs_whose_date_or_id_is_taken(store: Store) -> None:
    with store.transaction():
        _dags(store, "etl", "report", "audit")
        store.runs.add(_run("etl", 1, "manual"))  # the date of etl's second run
        store.runs.add(_run("report", 0))  # the id (and date) of report's run
    with store.transaction():
        added = store.runs.add_new([_run("etl", 0), _run("etl", 1), _run("report", 0),
                                    _run("audit", 0), _run("etl", 2)])
        # The transaction goes on after the runs passed over (on PostgreSQL too).
        store.task_instances.add_to_new_runs(
            TaskInstanceRecord(run.dag_id, run.run_id, "t") for run in added)
    assert [(run.dag_id, run.logical_date) for run in added] == [
        ("etl", DAY), ("audit", DAY), ("etl", DAY + timedelta(days=2))]
    with store.transaction():
        etl = store.runs.list("etl")
        assert [(run.run_type, run.logical_date) for run in etl] == [
            ("scheduled", DAY), ("manual", DAY + timedelta(days=1)),
            ("scheduled", DAY + timedelta(days=2))]
        assert etl[0] == added[0]
        assert [ti.task_id for ti in store.task_instances.for_run("audit", added[1].run_id)
                ] == ["t"]
        assert store.task_instances.for_run("report", _run("report", 0).run_id) == []


def test_add_new_adds_one_run_of_those_given_twice(store: Store) -> None:
    with store.transaction():
        _dags(store, "etl")
        again = DagRunRecord(dag_id="etl", run_id="other", logical_date=DAY,
                             data_interval_start=DAY, data_interval_end=DAY, run_type="manual")
        added = store.runs.add_new([_run("etl", 0), _run("etl", 0), again])
        assert added == [_run("etl", 0)]
        assert store.runs.add_new([]) == []
        assert [run.run_id for run in store.runs.list("etl")] == [_run("etl", 0).run_id]


def test_an_instance_already_there_is_a_conflict(store: Store) -> None:
    with store.transaction():
        _dags(store, "etl")
        [run] = store.runs.add_new([_run("etl", 0)])
        store.task_instances.add_to_new_runs([TaskInstanceRecord("etl", run.run_id, "t")])
        store.task_instances.add_to_new_runs([])
    with pytest.raises(ConflictError), store.transaction():
        store.task_instances.add_to_new_runs([TaskInstanceRecord("etl", run.run_id, "u"),
                                              TaskInstanceRecord("etl", run.run_id, "t")])
    with store.transaction():  # nothing of the failed call is left
        assert [ti.task_id for ti in store.task_instances.for_run("etl", run.run_id)] == ["t"]


def test_active_counts_count_the_queued_and_running_runs_of_each_dag(store: Store) -> None:
    with store.transaction():
        _dags(store, "etl", "report", "idle")
        for day in range(4):
            store.runs.add(_run("etl", day))
        store.runs.add(_run("report", 0))
        store.runs.add(_run("idle", 0))
        etl = store.runs.list("etl")
        store.runs.set_state(etl[0], DagRunState.RUNNING)
        running = store.runs.set_state(etl[1], DagRunState.RUNNING)
        store.runs.set_state(running, DagRunState.SUCCESS)
        [idle] = store.runs.list("idle")
        store.runs.set_state(idle, DagRunState.FAILED)
    with store.transaction():
        assert store.runs.active_counts(["etl", "report", "idle", "unknown"]) == {
            "etl": 3, "report": 1}
        assert store.runs.active_counts(["report"]) == {"report": 1}
        assert store.runs.active_counts([]) == {}


def test_set_next_due_many_sets_each_dags_moment(store: Store) -> None:
    with store.transaction():
        _dags(store, "etl", "report", "audit")
        store.dags.set_next_due_many({"etl": DAY + timedelta(hours=1), "report": None})
        store.dags.set_next_due_many({})
    with store.transaction():
        assert store.dags.due(DAY) == ["audit"]
        assert store.dags.due(DAY + timedelta(hours=1)) == ["audit", "etl"]


def test_many_runs_take_the_same_statements_as_one_on_sqlite(sqlite_engine: Engine) -> None:
    """What the store really sends: one insert of the runs and one of their instances,
    whatever their number."""
    store = SqlStore(sqlite_engine)
    sent: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement.split()[0])

    def add(dag_ids: list[str], day: int) -> list[str]:
        sent.clear()
        event.listen(sqlite_engine, "before_cursor_execute", capture)
        try:
            with store.transaction():
                added = store.runs.add_new([_run(dag_id, day) for dag_id in dag_ids])
                store.task_instances.add_to_new_runs(
                    TaskInstanceRecord(run.dag_id, run.run_id, f"t{i}", state=TaskState.NONE)
                    for run in added for i in range(5))
                assert len(added) == len(dag_ids)
        finally:
            event.remove(sqlite_engine, "before_cursor_execute", capture)
        return list(sent)

    try:
        dag_ids = [f"dag{i:03d}" for i in range(200)]
        with store.transaction():
            _dags(store, *dag_ids)
        one = add(dag_ids[:1], 0)
        many = add(dag_ids, 1)
        assert many == one
        assert many.count("INSERT") == 2, many
    finally:
        store.close()
