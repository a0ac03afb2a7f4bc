"""The store contract: every store (memory, SQLite, PostgreSQL) behaves the same.

Each test runs once per store kind through the ``store`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from millstream.exceptions import ConflictError, InvalidInputError, StaleRecordError
from millstream.model.states import DagRunState, InvalidTransition, TaskState
from millstream.store.interfaces import Store
from millstream.store.records import (
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)

StoreFactory = Callable[..., Store]

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def make_run(dag_id: str = "etl", day: int = 0, run_id: str | None = None,
             **fields: object) -> DagRunRecord:
    logical = DAY + timedelta(days=day)
    return DagRunRecord(
        dag_id=dag_id,
        run_id=run_id or f"scheduled__{logical.isoformat()}",
        logical_date=logical,
        data_interval_start=logical,
        data_interval_end=logical + timedelta(days=1),
        **fields,  # type: ignore[arg-type]
    )


def add_run_with_tasks(store: Store, run: DagRunRecord, *task_ids: str,
                       **fields: object) -> list[TaskInstanceRecord]:
    with store.transaction():
        store.runs.add(run)
        instances = [
            TaskInstanceRecord(run.dag_id, run.run_id, task_id, **fields)  # type: ignore[arg-type]
            for task_id in task_ids
        ]
        store.task_instances.add_many(instances)
    return instances


def by_key(instances: list[TaskInstanceRecord]) -> list[TaskInstanceRecord]:
    return sorted(instances, key=lambda ti: (ti.dag_id, ti.run_id, ti.task_id, ti.map_index))


# -- runs ------------------------------------------------------------------------------------------
def test_added_run_reads_back_equal(store: Store) -> None:
    run = make_run(conf={"region": "north", "limit": [1, 2]}, queued_at=DAY, note="first",
                   dag_version="3f2a9c")
    with store.transaction():
        store.runs.add(run)
    got = store.runs.get("etl", run.run_id)
    assert got == run
    assert got is not None and got.state is DagRunState.QUEUED
    assert store.runs.get("etl", "nope") is None
    assert store.runs.get("other", run.run_id) is None


def test_find_by_logical_date(store: Store) -> None:
    run = make_run(day=3)
    with store.transaction():
        store.runs.add(run)
    found = store.runs.find("etl", DAY + timedelta(days=3))
    assert found is not None and found.run_id == run.run_id
    assert store.runs.find("etl", DAY) is None
    assert store.runs.find("other", DAY + timedelta(days=3)) is None


def test_list_orders_by_dag_and_logical_date_and_filters(store: Store) -> None:
    with store.transaction():
        for dag_id, day in [("b", 1), ("a", 2), ("b", 0), ("a", 0)]:
            store.runs.add(make_run(dag_id, day))
        running = make_run("a", 5)
        store.runs.add(running)
        store.runs.set_state(running, DagRunState.RUNNING, start_date=DAY)
    listed = [(r.dag_id, r.logical_date.day) for r in store.runs.list()]
    assert listed == [("a", 1), ("a", 3), ("a", 6), ("b", 1), ("b", 2)]
    assert [r.logical_date.day for r in store.runs.list("b")] == [1, 2]
    assert [r.run_id for r in store.runs.list(states=[DagRunState.RUNNING])] == [running.run_id]
    assert store.runs.list("b", [DagRunState.RUNNING]) == []
    assert len(store.runs.list(states=[DagRunState.QUEUED, DagRunState.RUNNING])) == 5
    assert store.runs.list(states=[]) == []


def test_previous_is_the_latest_earlier_run_of_the_same_dag(store: Store) -> None:
    with store.transaction():
        for day in (0, 2, 5):
            store.runs.add(make_run("etl", day))
        store.runs.add(make_run("other", 4))
    previous = store.runs.previous("etl", DAY + timedelta(days=5))
    assert previous is not None and previous.logical_date == DAY + timedelta(days=2)
    previous = store.runs.previous("etl", DAY + timedelta(days=1))
    assert previous is not None and previous.logical_date == DAY
    assert store.runs.previous("etl", DAY) is None


def test_duplicate_run_id_is_rejected(store: Store) -> None:
    with store.transaction():
        store.runs.add(make_run(run_id="manual__1"))
    with pytest.raises(ConflictError, match="already has a run 'manual__1'"), store.transaction():
        store.runs.add(make_run(day=1, run_id="manual__1"))
    assert [r.logical_date for r in store.runs.list()] == [DAY]


def test_second_run_for_the_same_logical_date_is_rejected(store: Store) -> None:
    with store.transaction():
        store.runs.add(make_run(run_id="manual__1"))
    with pytest.raises(ConflictError, match="already has a run for logical date"), \
            store.transaction():
        store.runs.add(make_run(run_id="manual__2"))
    assert [r.run_id for r in store.runs.list()] == ["manual__1"]
    with store.transaction():  # the same date in another DAG is fine
        store.runs.add(make_run("other", run_id="manual__2"))


def test_run_set_state_updates_the_record_and_the_store(store: Store) -> None:
    run = make_run()
    with store.transaction():
        store.runs.add(run)
    record = store.runs.get("etl", run.run_id)
    assert record is not None
    started = DAY + timedelta(hours=1)
    with store.transaction():
        changed = store.runs.set_state(record, DagRunState.RUNNING, start_date=started)
    assert changed.state is DagRunState.RUNNING and changed.start_date == started
    assert record.state is DagRunState.QUEUED and record.start_date is None  # as it was read
    stored = store.runs.get("etl", run.run_id)
    assert stored is not None
    assert stored.state is DagRunState.RUNNING and stored.start_date == started
    with store.transaction():
        store.runs.set_state(stored, DagRunState.SUCCESS, end_date=started, note="done")
    final = store.runs.get("etl", run.run_id)
    assert final is not None
    assert (final.state, final.end_date, final.note) == (DagRunState.SUCCESS, started, "done")


def test_run_set_state_refuses_a_transition_the_table_forbids(store: Store) -> None:
    run = make_run()
    with store.transaction():
        store.runs.add(run)
    record = store.runs.get("etl", run.run_id)
    assert record is not None
    with pytest.raises(InvalidTransition, match="from 'queued' to 'queued'"):
        store.runs.set_state(record, DagRunState.QUEUED)
    with store.transaction():
        record = store.runs.set_state(record, DagRunState.SUCCESS)
    with pytest.raises(InvalidTransition, match="from 'success' to 'running'"):
        store.runs.set_state(record, DagRunState.RUNNING)
    stored = store.runs.get("etl", run.run_id)
    assert stored is not None and stored.state is DagRunState.SUCCESS


def test_run_set_state_refuses_an_unknown_field(store: Store) -> None:
    run = make_run()
    with store.transaction():
        store.runs.add(run)
    with pytest.raises(AttributeError):
        store.runs.set_state(run, DagRunState.RUNNING, colour="blue")


# -- task instances --------------------------------------------------------------------------------
def test_task_instances_read_back_per_key_and_per_run(store: Store) -> None:
    run = make_run()
    added = add_run_with_tasks(store, run, "extract", "load", pool="db", priority_weight=3)
    other = add_run_with_tasks(store, make_run(day=1), "extract")
    got = store.task_instances.get(TaskInstanceKey("etl", run.run_id, "load"))
    assert got == added[1]
    assert got is not None and got.pool == "db" and got.priority_weight == 3
    assert store.task_instances.get(TaskInstanceKey("etl", run.run_id, "nope")) is None
    assert by_key(store.task_instances.for_run("etl", run.run_id)) == by_key(added)
    assert store.task_instances.for_run("etl", other[0].run_id) == other
    assert store.task_instances.for_run("etl", "nope") == []


def test_duplicate_task_instance_is_rejected(store: Store) -> None:
    run = make_run()
    add_run_with_tasks(store, run, "extract")
    with pytest.raises(ConflictError, match="already exists"), store.transaction():
        store.task_instances.add_many([TaskInstanceRecord("etl", run.run_id, "extract")])
    assert len(store.task_instances.for_run("etl", run.run_id)) == 1


def test_in_states(store: Store) -> None:
    run = make_run()
    a, b, _c = add_run_with_tasks(store, run, "a", "b", "c")
    with store.transaction():
        store.task_instances.set_state(a, TaskState.SCHEDULED)
        store.task_instances.set_state(b, TaskState.SKIPPED)
    assert [ti.task_id for ti in store.task_instances.in_states([TaskState.SCHEDULED])] == ["a"]
    found = store.task_instances.in_states([TaskState.NONE, TaskState.SKIPPED])
    assert sorted(ti.task_id for ti in found) == ["b", "c"]
    assert store.task_instances.in_states([]) == []


def test_ti_set_state_applies_checked_transitions_with_fields(store: Store) -> None:
    run = make_run()
    add_run_with_tasks(store, run, "extract")
    key = TaskInstanceKey("etl", run.run_id, "extract")
    ti = store.task_instances.get(key)
    assert ti is not None
    started = DAY + timedelta(minutes=5)
    with store.transaction():
        ti = store.task_instances.set_state(ti, TaskState.SCHEDULED)
        ti = store.task_instances.set_state(ti, TaskState.QUEUED, try_number=1)
        ti = store.task_instances.set_state(ti, TaskState.RUNNING, start_date=started,
                                            hostname="worker-1", pid=4242)
    assert ti.state is TaskState.RUNNING and ti.pid == 4242
    stored = store.task_instances.get(key)
    assert stored == ti
    with pytest.raises(InvalidTransition, match="from 'running' to 'queued'"):
        store.task_instances.set_state(stored, TaskState.QUEUED)
    with pytest.raises(InvalidTransition), store.transaction():
        store.task_instances.set_state(stored, TaskState.RUNNING)
    after = store.task_instances.get(key)
    assert after is not None and after.state is TaskState.RUNNING
    with store.transaction():
        store.task_instances.set_state(after, TaskState.UP_FOR_RETRY, error="boom",
                                       next_retry_at=started + timedelta(minutes=1))
    final = store.task_instances.get(key)
    assert final is not None
    assert final.state is TaskState.UP_FOR_RETRY
    assert (final.error, final.next_retry_at) == ("boom", started + timedelta(minutes=1))
    assert (final.try_number, final.hostname, final.start_date) == (1, "worker-1", started)


def test_ti_set_state_refuses_a_transition_from_none_straight_to_queued(store: Store) -> None:
    run = make_run()
    (ti,) = add_run_with_tasks(store, run, "extract")
    with pytest.raises(InvalidTransition, match="allowed from 'none'"):
        store.task_instances.set_state(ti, TaskState.QUEUED)


def test_claim_is_a_compare_and_set(store: Store) -> None:
    run = make_run()
    (ti,) = add_run_with_tasks(store, run, "extract")
    with store.transaction():
        store.task_instances.set_state(ti, TaskState.SCHEDULED)
    first = store.task_instances.get(ti.key)
    second = store.task_instances.get(ti.key)
    assert first is not None and second is not None
    with store.transaction():
        won = store.task_instances.claim(first, TaskState.SCHEDULED, TaskState.QUEUED,
                                         try_number=1)
    assert won is not None and (won.state, won.try_number) == (TaskState.QUEUED, 1)
    assert first.state is TaskState.SCHEDULED  # the record read stays as it was
    with store.transaction():
        again = store.task_instances.claim(second, TaskState.SCHEDULED, TaskState.QUEUED,
                                           try_number=2)
    assert again is None
    stored = store.task_instances.get(ti.key)
    assert stored is not None and (stored.state, stored.try_number) == (TaskState.QUEUED, 1)
    missing = TaskInstanceRecord("etl", run.run_id, "ghost", state=TaskState.SCHEDULED)
    assert store.task_instances.claim(missing, TaskState.SCHEDULED, TaskState.QUEUED) is None


def test_claim_checks_the_transition_when_the_state_matches(store: Store) -> None:
    run = make_run()
    (ti,) = add_run_with_tasks(store, run, "extract")
    with pytest.raises(InvalidTransition):
        store.task_instances.claim(ti, TaskState.NONE, TaskState.RUNNING)
    # A state that does not match loses the race before any transition is checked.
    assert store.task_instances.claim(ti, TaskState.QUEUED, TaskState.QUEUED) is None
    stored = store.task_instances.get(ti.key)
    assert stored is not None and stored.state is TaskState.NONE


def test_expand_turns_the_placeholder_into_mapped_instances(store: Store) -> None:
    run = make_run()
    (placeholder,) = add_run_with_tasks(store, run, "fan", pool="wide", max_tries=2)
    add_run_with_tasks(store, make_run(day=1), "fan")
    with store.transaction():
        created = store.task_instances.expand(placeholder, 3)
    assert [ti.map_index for ti in created] == [0, 1, 2]
    assert placeholder.map_index == -1  # the record read stays as it was
    assert all((ti.pool, ti.max_tries, ti.state) == ("wide", 2, TaskState.NONE)
               for ti in created)
    assert store.task_instances.get(TaskInstanceKey("etl", run.run_id, "fan", -1)) is None
    assert by_key(store.task_instances.for_run("etl", run.run_id)) == created
    for i in range(3):
        assert store.task_instances.get(TaskInstanceKey("etl", run.run_id, "fan", i)) == created[i]
    with pytest.raises(ConflictError, match="already expanded"):
        store.task_instances.expand(created[0], 2)
    with pytest.raises(StaleRecordError, match="not in the store"):
        store.task_instances.expand(placeholder, 2)  # the placeholder is gone
    assert len(store.task_instances.for_run("etl", make_run(day=1).run_id)) == 1


def test_expand_to_no_instances_is_refused(store: Store) -> None:
    (placeholder,) = add_run_with_tasks(store, make_run(), "fan")
    with pytest.raises(ValueError, match="cannot expand"):
        store.task_instances.expand(placeholder, 0)
    assert placeholder.map_index == -1
    assert [ti.map_index for ti in store.task_instances.for_run("etl", placeholder.run_id)] == [-1]


def test_expanded_instances_move_independently(store: Store) -> None:
    run = make_run()
    (placeholder,) = add_run_with_tasks(store, run, "fan")
    with store.transaction():
        created = store.task_instances.expand(placeholder, 2)
        store.task_instances.set_state(created[1], TaskState.SCHEDULED)
    states = {ti.map_index: ti.state for ti in store.task_instances.for_run("etl", run.run_id)}
    assert states == {0: TaskState.NONE, 1: TaskState.SCHEDULED}


def test_heartbeat_records_when_tries_were_seen_alive(store: Store) -> None:
    run = make_run()
    a, b, _c = add_run_with_tasks(store, run, "a", "b", "c")
    seen = DAY + timedelta(seconds=30)
    with store.transaction():
        store.task_instances.heartbeat([a.key, b.key, TaskInstanceKey("etl", run.run_id, "x")],
                                       seen)
        store.task_instances.heartbeat([], seen)
    beats = {ti.task_id: ti.heartbeat_at for ti in store.task_instances.for_run("etl", run.run_id)}
    assert beats == {"a": seen, "b": seen, "c": None}
    with store.transaction():
        store.task_instances.heartbeat([a.key], seen + timedelta(seconds=5))
    got = store.task_instances.get(a.key)
    assert got is not None and got.heartbeat_at == seen + timedelta(seconds=5)


def test_tries_keep_the_history_in_order(store: Store) -> None:
    run = make_run()
    (ti,) = add_run_with_tasks(store, run, "flaky")
    end = DAY + timedelta(minutes=1)
    first = TaskTryRecord(ti.key, 1, TaskState.UP_FOR_RETRY, DAY, end, "boom")
    second = TaskTryRecord(ti.key, 2, TaskState.SUCCESS, end, end + timedelta(seconds=3))
    other = TaskTryRecord(TaskInstanceKey("etl", run.run_id, "flaky", 0), 1, TaskState.SUCCESS,
                          DAY, end)
    with store.transaction():
        store.task_instances.record_try(first)
        store.task_instances.record_try(other)
        store.task_instances.record_try(second)
    assert store.task_instances.tries(ti.key) == [first, second]
    assert store.task_instances.tries(TaskInstanceKey("etl", run.run_id, "nope")) == []


# -- XComs -----------------------------------------------------------------------------------------
def test_xcoms_set_get_and_overwrite(store: Store) -> None:
    run = make_run()
    add_run_with_tasks(store, run, "extract")
    key = TaskInstanceKey("etl", run.run_id, "extract")
    with store.transaction():
        store.xcoms.set_many(key, [("return_value", "[1, 2]"), ("rows", "2")])
    assert store.xcoms.get_xcom("etl", run.run_id, "extract", -1, "return_value") == "[1, 2]"
    assert store.xcoms.get_xcom("etl", run.run_id, "extract", -1, "rows") == "2"
    assert store.xcoms.get_xcom("etl", run.run_id, "extract", -1, "nope") is None
    assert store.xcoms.get_xcom("etl", run.run_id, "extract", 0, "rows") is None
    assert store.xcoms.get_xcom("etl", run.run_id, "other", -1, "rows") is None
    with store.transaction():
        store.xcoms.set_many(key, [("rows", "3"), ("rows", "4"), ("more", '"x"')])
        store.xcoms.set_many(key, [])
    assert store.xcoms.get_xcom("etl", run.run_id, "extract", -1, "rows") == "4"
    assert store.xcoms.get_xcom("etl", run.run_id, "extract", -1, "return_value") == "[1, 2]"


def test_mapped_xcoms_come_in_map_index_order(store: Store) -> None:
    run = make_run()
    add_run_with_tasks(store, run, "fan")

    def key(index: int) -> TaskInstanceKey:
        return TaskInstanceKey("etl", run.run_id, "fan", index)

    with store.transaction():
        for index in (2, 0, 10, 1):
            store.xcoms.set_many(key(index), [("return_value", str(index * 10))])
        store.xcoms.set_many(key(-1), [("return_value", '"placeholder"')])
        store.xcoms.set_many(key(3), [("other", "99")])
    assert store.xcoms.get_mapped_xcoms("etl", run.run_id, "fan", "return_value") == [
        "0", "10", "20", "100"
    ]
    assert store.xcoms.get_mapped_xcoms("etl", run.run_id, "fan", "other") == ["99"]
    assert store.xcoms.get_mapped_xcoms("etl", run.run_id, "nope", "return_value") == []


def test_clear_removes_one_instances_xcoms(store: Store) -> None:
    run = make_run()
    add_run_with_tasks(store, run, "a", "b")
    a = TaskInstanceKey("etl", run.run_id, "a")
    b = TaskInstanceKey("etl", run.run_id, "b")
    with store.transaction():
        store.xcoms.set_many(a, [("return_value", "1"), ("k", "2")])
        store.xcoms.set_many(b, [("return_value", "3")])
    with store.transaction():
        store.xcoms.clear(a)
        store.xcoms.clear(TaskInstanceKey("etl", run.run_id, "nope"))
    assert store.xcoms.get_xcom("etl", run.run_id, "a", -1, "return_value") is None
    assert store.xcoms.get_xcom("etl", run.run_id, "a", -1, "k") is None
    assert store.xcoms.get_xcom("etl", run.run_id, "b", -1, "return_value") == "3"


# -- pools -----------------------------------------------------------------------------------------
def test_pools(store: Store) -> None:
    assert store.pools.slots("default_pool") == 128
    assert store.pools.slots("db") is None
    with store.transaction():
        store.pools.set("db", 4, "the warehouse")
    assert store.pools.slots("db") == 4
    with store.transaction():
        store.pools.set("db", 0)
        store.pools.set("default_pool", 16)
    assert store.pools.slots("db") == 0
    assert store.pools.slots("default_pool") == 16
    with pytest.raises(InvalidInputError, match="slots must be >= 0"):
        store.pools.set("db", -1)
    assert store.pools.slots("db") == 0


def test_pools_list_and_delete(store: Store) -> None:
    assert store.pools.list() == [("default_pool", 128, "Default pool")]
    with store.transaction():
        store.pools.set("db", 4, "the warehouse")
        store.pools.set("api", 2)
    assert store.pools.list() == [
        ("api", 2, ""), ("db", 4, "the warehouse"), ("default_pool", 128, "Default pool"),
    ]
    with store.transaction():
        assert store.pools.delete("db") is True
        assert store.pools.delete("db") is False
    assert store.pools.slots("db") is None
    with pytest.raises(ConflictError, match="cannot be deleted"):
        store.pools.delete("default_pool")
    assert [name for name, _, _ in store.pools.list()] == ["api", "default_pool"]


def test_open_pools_exist_with_the_default_size(store_factory: StoreFactory) -> None:
    store = store_factory(open_pools=True)
    assert store.pools.slots("anything") == 128
    with store.transaction():
        store.pools.set("small", 2)
    assert store.pools.slots("small") == 2


# -- datetimes -------------------------------------------------------------------------------------
def test_datetimes_read_back_timezone_aware_and_equal(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    logical = datetime(2026, 3, 1, 2, 30, 15, 123456, tzinfo=plus_two)
    run = DagRunRecord("etl", "manual__tz", logical, logical, logical + timedelta(days=1),
                       queued_at=logical)
    (ti,) = add_run_with_tasks(store, run, "t")
    with store.transaction():
        store.task_instances.set_state(ti, TaskState.SKIPPED, start_date=logical,
                                       end_date=logical)
    got_run = store.runs.get("etl", "manual__tz")
    got_ti = store.task_instances.get(ti.key)
    assert got_run is not None and got_ti is not None
    moments = [got_run.logical_date, got_run.data_interval_start, got_run.data_interval_end,
               got_run.queued_at, got_ti.start_date, got_ti.end_date]
    for moment in moments:
        assert moment is not None and moment.tzinfo is not None
    assert got_run.logical_date == logical
    assert got_ti.end_date == logical
    assert store.runs.find("etl", logical.astimezone(UTC)) is not None
