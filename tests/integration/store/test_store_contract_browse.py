"""The store contract for the UI's bounded page queries (``store.browse``).

Each test runs once per store kind (memory, SQLite, PostgreSQL) through the ``store`` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream.model.states import DagRunState, TaskState
from millstream.store.interfaces import Store
from millstream.store.records import (
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _add_runs(store: Store, dag_id: str, days: int, tasks: tuple[str, ...] = ("a", "b")) -> None:
    with store.transaction():
        for day in range(days):
            start = DAY + timedelta(days=day)
            run = DagRunRecord(dag_id, f"scheduled__{day:03d}", start, start,
                               start + timedelta(days=1), "scheduled")
            store.runs.add(run)
            store.task_instances.add_many(
                TaskInstanceRecord(dag_id, run.run_id, task) for task in tasks)


def test_latest_runs_pages_newest_first(store: Store) -> None:
    _add_runs(store, "etl", 7)
    _add_runs(store, "other", 2)
    first = store.browse.latest_runs("etl", 3)
    assert [r.run_id for r in first] == ["scheduled__006", "scheduled__005", "scheduled__004"]
    older = store.browse.latest_runs("etl", 3, before=first[-1].logical_date)
    assert [r.run_id for r in older] == ["scheduled__003", "scheduled__002", "scheduled__001"]
    last = store.browse.latest_runs("etl", 3, before=older[-1].logical_date)
    assert [r.run_id for r in last] == ["scheduled__000"]
    assert store.browse.latest_runs("etl", 0) == []
    assert store.browse.latest_runs("nope", 5) == []
    assert store.browse.run_count("etl") == 7
    assert store.browse.run_count("nope") == 0


def test_latest_runs_per_dag_keeps_each_dags_newest(store: Store) -> None:
    _add_runs(store, "etl", 5)
    _add_runs(store, "other", 1)
    _add_runs(store, "third", 3)
    found = store.browse.latest_runs_per_dag(["etl", "other", "empty", "third"], 2)
    assert {dag: [r.run_id for r in runs] for dag, runs in found.items()} == {
        "etl": ["scheduled__004", "scheduled__003"],
        "other": ["scheduled__000"],
        "third": ["scheduled__002", "scheduled__001"],
    }
    assert store.browse.latest_runs_per_dag([], 3) == {}
    assert store.browse.latest_runs_per_dag(["etl"], 0) == {}
    runs = found["etl"]
    assert runs[0].state is DagRunState.QUEUED and runs[0].data_interval_end == DAY + \
        timedelta(days=5)


def test_run_state_counts_per_dag(store: Store) -> None:
    _add_runs(store, "etl", 4)
    _add_runs(store, "other", 1)
    with store.transaction():
        for run_id, state in [("scheduled__000", DagRunState.SUCCESS),
                              ("scheduled__001", DagRunState.FAILED),
                              ("scheduled__002", DagRunState.RUNNING)]:
            run = store.runs.get("etl", run_id)
            assert run is not None
            if state is not DagRunState.RUNNING:
                run = store.runs.set_state(run, DagRunState.RUNNING)
            store.runs.set_state(run, state)
    counts = store.browse.run_state_counts(["etl", "other", "none"])
    assert counts == {
        "etl": {DagRunState.SUCCESS: 1, DagRunState.FAILED: 1, DagRunState.RUNNING: 1,
                DagRunState.QUEUED: 1},
        "other": {DagRunState.QUEUED: 1},
    }
    assert store.browse.run_state_counts([]) == {}


def test_instances_and_tries_of_several_runs(store: Store) -> None:
    _add_runs(store, "etl", 3, tasks=("b", "a"))
    _add_runs(store, "other", 1, tasks=("a",))
    found = store.browse.instances_for_runs("etl", ["scheduled__002", "scheduled__000"])
    assert [(ti.run_id, ti.task_id) for ti in found] == [
        ("scheduled__000", "a"), ("scheduled__000", "b"),
        ("scheduled__002", "a"), ("scheduled__002", "b"),
    ]
    assert store.browse.instances_for_runs("etl", []) == []
    key_b = TaskInstanceKey("etl", "scheduled__001", "b")
    key_a = TaskInstanceKey("etl", "scheduled__001", "a")
    with store.transaction():
        store.task_instances.record_try(
            TaskTryRecord(key_b, 2, TaskState.FAILED, DAY, DAY + timedelta(seconds=3), "boom"))
        store.task_instances.record_try(
            TaskTryRecord(key_b, 1, TaskState.UP_FOR_RETRY, DAY, DAY + timedelta(seconds=1)))
        store.task_instances.record_try(
            TaskTryRecord(key_a, 1, TaskState.SUCCESS, DAY, DAY + timedelta(seconds=2)))
    tries = store.browse.tries_for_run("etl", "scheduled__001")
    assert [(t.key.task_id, t.try_number, t.state) for t in tries] == [
        ("a", 1, TaskState.SUCCESS), ("b", 1, TaskState.UP_FOR_RETRY), ("b", 2, TaskState.FAILED)
    ]
    assert tries[2].error == "boom"
    assert store.browse.tries_for_run("etl", "scheduled__000") == []


def test_latest_structures_of_several_dags(store: Store) -> None:
    with store.transaction():
        store.dags.upsert("etl", "/d/etl.py", '{"v": 1}', "v1", DAY)
        store.dags.upsert("etl", "/d/etl.py", '{"v": 2}', "v2", DAY)
        store.dags.upsert("other", "/d/other.py", '{"o": 1}', "o1", DAY)
    assert store.browse.latest_structures(["etl", "other", "nope"]) == {
        "etl": ("v2", '{"v": 2}'), "other": ("o1", '{"o": 1}'),
    }
    assert store.browse.latest_structures([]) == {}


def test_run_counts_follow_deletes_state_changes_and_rollbacks(store: Store) -> None:
    _add_runs(store, "etl", 3)
    with store.transaction():
        run = store.runs.get("etl", "scheduled__000")
        assert run is not None
        store.runs.set_state(run, DagRunState.RUNNING)
        assert store.runs.delete("etl", "scheduled__001")
    assert store.browse.run_state_counts(["etl"]) == {
        "etl": {DagRunState.RUNNING: 1, DagRunState.QUEUED: 1}}
    assert store.browse.run_count("etl") == 2
    try:
        with store.transaction():
            assert store.runs.delete("etl", "scheduled__002")
            assert store.browse.run_count("etl") == 1  # seen inside the transaction
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert store.browse.run_count("etl") == 2
    assert store.listing.runs("etl", [DagRunState.QUEUED], True, 1, 0).total == 1
    assert store.listing.runs(None, None, True, 1, 0).total == 2
    assert store.listing.runs(None, [DagRunState.SUCCESS], True, 1, 0).total == 0
