"""The store contract for triggers, task reschedules and the fields of suspended tries.

Each test runs once per store kind (memory, SQLite, PostgreSQL) through the ``store`` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from tests.autocommit import autocommit

from millstream.model.states import TaskState
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from millstream.store.sql import SqlStore
from millstream.store.trigger_records import TaskRescheduleRecord

DAY = datetime(2026, 1, 1, tzinfo=UTC)
MOMENT = {"__millstream_type__": "datetime", "value": "2026-01-01T06:00:00+00:00"}
CLASSPATH = "millstream.triggerer.triggers.time.DateTimeTrigger"


def make_run() -> DagRunRecord:
    return DagRunRecord("etl", "manual__1", DAY, DAY, DAY + timedelta(days=1))


def add_run_with_tasks(store: Store, run: DagRunRecord, *task_ids: str,
                       **fields: object) -> None:
    with store.transaction():
        store.runs.add(run)
        store.task_instances.add_many(
            TaskInstanceRecord(run.dag_id, run.run_id, task_id, **fields)  # type: ignore[arg-type]
            for task_id in task_ids
        )


def _deferred(store: Store, *task_ids: str, timeout: datetime | None = None
              ) -> tuple[DagRunRecord, dict[str, TaskInstanceRecord], int]:
    """A run whose tasks are deferred on one new trigger (as the scheduler records it)."""
    run = make_run()
    add_run_with_tasks(store, run, *task_ids, state=TaskState.RUNNING, try_number=1)
    with store.transaction():
        trigger_id = store.triggers.add(CLASSPATH, {"moment": MOMENT}, DAY)
        for ti in store.task_instances.for_run(run.dag_id, run.run_id):
            store.task_instances.set_state(
                ti, TaskState.DEFERRED, trigger_id=trigger_id, trigger_timeout=timeout,
                next_method="execute_complete", next_kwargs={"n": 1},
            )
    instances = {ti.task_id: ti for ti in store.task_instances.for_run(run.dag_id, run.run_id)}
    return run, instances, trigger_id


def test_added_trigger_reads_back_unowned(store: Store) -> None:
    with store.transaction():
        first = store.triggers.add(CLASSPATH, {"moment": MOMENT, "nested": [1, {"a": None}]}, DAY)
        second = store.triggers.add("pkg.Other", {}, DAY + timedelta(seconds=1))
    assert first != second
    got = store.triggers.get(first)
    assert got is not None
    assert (got.id, got.classpath, got.kwargs, got.created_date, got.triggerer_id,
            got.heartbeat_at) == (
        first, CLASSPATH, {"moment": MOMENT, "nested": [1, {"a": None}]}, DAY, None, None)
    assert [t.id for t in store.triggers.list()] == sorted([first, second])
    assert store.triggers.get(first + second + 100) is None


def test_deferred_fields_read_back_and_waiting_on_finds_the_instances(store: Store) -> None:
    timeout = DAY + timedelta(hours=1)
    _, instances, trigger_id = _deferred(store, "a", "b", timeout=timeout)
    ti = instances["a"]
    assert (ti.state, ti.trigger_id, ti.trigger_timeout, ti.next_method, ti.next_kwargs) == (
        TaskState.DEFERRED, trigger_id, timeout, "execute_complete", {"n": 1})
    assert ti.resuming
    assert [t.task_id for t in store.triggers.waiting_on(trigger_id)] == ["a", "b"]
    assert store.triggers.waiting_on(trigger_id + 1) == []


def test_assign_takes_free_triggers_up_to_capacity_and_never_shares_one(store: Store) -> None:
    with store.transaction():
        ids = [store.triggers.add(CLASSPATH, {"moment": MOMENT}, DAY) for _ in range(5)]
    stale_before = DAY - timedelta(seconds=30)
    with store.transaction():
        mine = store.triggers.assign("host:1", 3, DAY, stale_before)
    assert [t.id for t in mine] == ids[:3]
    assert all(t.triggerer_id == "host:1" and t.heartbeat_at == DAY for t in mine)
    with store.transaction():
        theirs = store.triggers.assign("host:2", 10, DAY, stale_before)
    assert [t.id for t in theirs] == ids[3:]
    with store.transaction():  # at capacity already, and nothing is free
        again = store.triggers.assign("host:1", 3, DAY, stale_before)
    assert [t.id for t in again] == ids[:3]
    assert store.triggers.owners() == ["host:1", "host:2"]


def test_triggers_of_a_silent_triggerer_are_taken_over(store: Store) -> None:
    with store.transaction():
        trigger_id = store.triggers.add(CLASSPATH, {"moment": MOMENT}, DAY)
        store.triggers.assign("host:1", 10, DAY, DAY - timedelta(seconds=30))
    later = DAY + timedelta(seconds=20)
    with store.transaction():  # host:1 beat 20 s ago: still alive
        assert store.triggers.assign("host:2", 10, later, later - timedelta(seconds=30)) == []
        store.triggers.heartbeat("host:1", later)
    much_later = later + timedelta(seconds=31)
    with store.transaction():
        taken = store.triggers.assign("host:2", 10, much_later,
                                      much_later - timedelta(seconds=30))
    assert [(t.id, t.triggerer_id, t.heartbeat_at) for t in taken] == [
        (trigger_id, "host:2", much_later)]


def test_release_gives_triggers_back(store: Store) -> None:
    with store.transaction():
        for _ in range(2):
            store.triggers.add(CLASSPATH, {"moment": MOMENT}, DAY)
        store.triggers.assign("host:1", 10, DAY, DAY)
    with store.transaction():
        assert store.triggers.release("host:1") == 2
        assert store.triggers.release("host:1") == 0
    assert store.triggers.owners() == []
    assert all(t.triggerer_id is None and t.heartbeat_at is None
               for t in store.triggers.list())


def test_clean_unused_keeps_only_triggers_a_deferred_instance_waits_on(store: Store) -> None:
    _, instances, used = _deferred(store, "a")
    with store.transaction():
        unused = store.triggers.add(CLASSPATH, {"moment": MOMENT}, DAY)
        assert store.triggers.clean_unused() == 1
    assert [t.id for t in store.triggers.list()] == [used]
    with store.transaction():  # the instance is cleared by a user: its trigger is unused
        store.task_instances.set_state(instances["a"], TaskState.NONE)
        assert store.triggers.clean_unused() == 1
    assert store.triggers.list() == []
    assert store.triggers.get(unused) is None
    assert store.triggers.delete(used) is False


def test_timed_out_finds_deferred_instances_past_their_timeout(store: Store) -> None:
    _, _, trigger_id = _deferred(store, "a", timeout=DAY + timedelta(minutes=5))
    assert store.triggers.timed_out(DAY + timedelta(minutes=5)) == []
    late = store.triggers.timed_out(DAY + timedelta(minutes=5, seconds=1))
    assert [(ti.task_id, ti.trigger_id) for ti in late] == [("a", trigger_id)]


def test_a_try_that_ends_forgets_its_suspension(store: Store) -> None:
    run, instances, _ = _deferred(store, "a", "b")
    with store.transaction():
        store.task_instances.set_state(instances["a"], TaskState.SCHEDULED, trigger_id=None,
                                       next_kwargs={"event": 1})
    resumed = store.task_instances.get(instances["a"].key)
    assert resumed is not None
    assert (resumed.state, resumed.trigger_id, resumed.next_method, resumed.next_kwargs) == (
        TaskState.SCHEDULED, None, "execute_complete", {"event": 1})
    with store.transaction():
        queued = store.task_instances.claim(resumed, TaskState.SCHEDULED, TaskState.QUEUED)
        assert queued is not None
        running = store.task_instances.set_state(queued, TaskState.RUNNING)
        store.task_instances.set_state(running, TaskState.SUCCESS)
        store.task_instances.set_state(instances["b"], TaskState.FAILED)  # run stop / mark
    for task_id in ("a", "b"):
        ti = store.task_instances.get(TaskInstanceKey(run.dag_id, run.run_id, task_id))
        assert ti is not None
        assert (ti.reschedule_date, ti.trigger_id, ti.trigger_timeout, ti.next_method,
                ti.next_kwargs) == (None, None, None, None, None), task_id
        assert not ti.resuming


def test_reschedules_are_kept_per_try_in_order(store: Store) -> None:
    run = make_run()
    add_run_with_tasks(store, run, "wait")
    key = TaskInstanceKey(run.dag_id, run.run_id, "wait")
    pokes = [TaskRescheduleRecord(key, 1, DAY + timedelta(minutes=i),
                                  DAY + timedelta(minutes=i, seconds=1),
                                  DAY + timedelta(minutes=i + 1)) for i in range(3)]
    with store.transaction():
        for poke in pokes:
            store.task_reschedules.add(poke)
        store.task_reschedules.add(TaskRescheduleRecord(key, 2, DAY, DAY, DAY))
    assert store.task_reschedules.for_try(key, 1) == pokes
    assert [r.try_number for r in store.task_reschedules.for_try(key, 2)] == [2]
    assert store.task_reschedules.for_try(key, 3) == []
    other = TaskInstanceKey(run.dag_id, run.run_id, "other")
    assert store.task_reschedules.for_try(other, 1) == []


def test_two_triggerers_assigning_at_once_on_postgresql_skip_each_others_rows(
    clean_postgres_engine: Engine,
) -> None:
    first = autocommit(SqlStore(clean_postgres_engine))
    second = autocommit(SqlStore(clean_postgres_engine))
    try:
        with first.transaction():
            ids = [first.triggers.add(CLASSPATH, {"moment": MOMENT}, DAY) for _ in range(5)]
        with first.transaction():
            mine = first.triggers.assign("host:1", 3, DAY, DAY)
            # first's transaction is open and holds its three rows: second skips them
            with second.transaction():
                theirs = second.triggers.assign("host:2", 10, DAY, DAY)
        assert [t.id for t in mine] == ids[:3]
        assert [t.id for t in theirs] == ids[3:]
    finally:
        first.close()
        second.close()
