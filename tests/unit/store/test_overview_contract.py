"""The overview's queries on every store: one state, a window on the end date, newest first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from millstream.model.states import DagRunState, TaskState
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _run(dag_id: str, day: int, state: DagRunState, ended: datetime | None) -> DagRunRecord:
    logical = DAY + timedelta(days=day)
    return DagRunRecord(dag_id, f"r{day}", logical, logical, logical + timedelta(days=1),
                        "scheduled", state, start_date=logical, end_date=ended)


def _seed(store: Store) -> None:
    runs = [
        _run("a", 0, DagRunState.FAILED, DAY + timedelta(hours=1)),  # before the window
        _run("a", 1, DagRunState.FAILED, DAY + timedelta(days=1, hours=5)),
        _run("b", 1, DagRunState.FAILED, DAY + timedelta(days=1, hours=7)),
        _run("b", 2, DagRunState.SUCCESS, DAY + timedelta(days=1, hours=8)),
        _run("c", 2, DagRunState.RUNNING, None),
    ]
    with store.transaction():
        for run in runs:
            store.runs.add(run)
            ended = run.end_date
            store.task_instances.add_many([
                TaskInstanceRecord(run.dag_id, run.run_id, "t", state=TaskState(run.state.value),
                                   try_number=1, start_date=run.start_date, end_date=ended),
            ])


def test_failed_runs_in_the_window_newest_end_first(store: Store) -> None:
    _seed(store)
    since = DAY + timedelta(days=1)
    found, total = store.overview.runs(DagRunState.FAILED, since, 10)
    assert [(r.dag_id, r.run_id) for r in found] == [("b", "r1"), ("a", "r1")]
    assert total == 2
    found, total = store.overview.runs(DagRunState.FAILED, since, 1)
    assert [(r.dag_id, r.run_id) for r in found] == [("b", "r1")] and total == 2
    everything, total = store.overview.runs(DagRunState.FAILED, None, 10)
    assert len(everything) == 3 and total == 3


def test_running_runs_whatever_the_window(store: Store) -> None:
    _seed(store)
    found, total = store.overview.runs(DagRunState.RUNNING, None, 10)
    assert [(r.dag_id, r.run_id) for r in found] == [("c", "r2")] and total == 1


def test_task_instances_by_state_and_window(store: Store) -> None:
    _seed(store)
    since = DAY + timedelta(days=1)
    failed, total = store.overview.task_instances(TaskState.FAILED, since, 10)
    assert [(t.dag_id, t.run_id, t.task_id) for t in failed] == [("b", "r1", "t"),
                                                                  ("a", "r1", "t")]
    assert total == 2
    running, total = store.overview.task_instances(TaskState.RUNNING, None, 10)
    assert [(t.dag_id, t.run_id) for t in running] == [("c", "r2")] and total == 1
    none, total = store.overview.task_instances(TaskState.UP_FOR_RETRY, since, 10)
    assert none == [] and total == 0


def test_pool_slots_taken_by_running_and_queued_instances(store: Store) -> None:
    _seed(store)
    run = _run("d", 3, DagRunState.RUNNING, None)
    with store.transaction():
        store.runs.add(run)
        store.task_instances.add_many([
            TaskInstanceRecord("d", run.run_id, "x", state=TaskState.QUEUED, pool="db",
                               pool_slots=3),
            TaskInstanceRecord("d", run.run_id, "y", state=TaskState.RUNNING, pool="db",
                               pool_slots=2),
            TaskInstanceRecord("d", run.run_id, "z", state=TaskState.SUCCESS, pool="db",
                               pool_slots=5),
        ])
    assert store.overview.pool_slots_taken() == {
        ("default_pool", TaskState.RUNNING): 1, ("db", TaskState.QUEUED): 3,
        ("db", TaskState.RUNNING): 2}


def test_a_dag_s_run_states_by_day(store: Store) -> None:
    late = datetime(2026, 1, 2, 23, 30, tzinfo=UTC)
    with store.transaction():
        for run_id, moment, state in (
            ("r1", datetime(2026, 1, 1, 6, tzinfo=UTC), DagRunState.SUCCESS),
            ("r2", datetime(2026, 1, 2, 6, tzinfo=UTC), DagRunState.FAILED),
            ("r3", late, DagRunState.FAILED),
            ("r4", datetime(2026, 1, 2, 8, tzinfo=UTC), DagRunState.SUCCESS),
        ):
            store.runs.add(DagRunRecord("cal", run_id, moment, moment, moment, "manual", state))
        store.runs.add(DagRunRecord("other", "x", late, late, late, "manual",
                                    DagRunState.FAILED))
    since = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert store.overview.daily_run_states("cal", since) == [
        (date(2026, 1, 2), DagRunState.FAILED, 2), (date(2026, 1, 2), DagRunState.SUCCESS, 1)]


def test_the_grid_reads_what_it_shows_of_many_runs_instances(store: Store) -> None:
    _seed(store)
    found = store.overview.grid_instances("b", ["r1", "r2", "nope"])
    assert sorted((t.run_id, t.task_id, t.map_index, t.state, t.try_number) for t in found) == [
        ("r1", "t", -1, TaskState.FAILED, 1), ("r2", "t", -1, TaskState.SUCCESS, 1)]
    failed = next(t for t in found if t.run_id == "r1")
    assert failed.end_date == DAY + timedelta(days=1, hours=7)
    assert failed.start_date == DAY + timedelta(days=1)
    assert store.overview.grid_instances("b", []) == []
