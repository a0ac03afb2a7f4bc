"""The contract every store implements: runs, task instances, XComs and pools.

Everything here goes through the ``Store`` interface only, inside ``store.transaction()``,
and reads back what it wrote, so that the same tests hold a SQL store to the same rules.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from millstream import DAG
from millstream.exceptions import ConflictError, InvalidInputError
from millstream.model.states import DagRunState, InvalidTransition, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.store.interfaces import Store
from millstream.store.records import (
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)
from millstream.testing import in_process_scheduler

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _run(dag_id: str = "etl", day: int = 0, **fields: object) -> DagRunRecord:
    logical = DAY + timedelta(days=day)
    return DagRunRecord(
        dag_id=dag_id,
        run_id=f"scheduled__{logical.isoformat()}",
        logical_date=logical,
        data_interval_start=logical,
        data_interval_end=logical + timedelta(days=1),
        run_type="scheduled",
        **fields,  # type: ignore[arg-type]
    )


def _ti(run: DagRunRecord, task_id: str, map_index: int = -1, **fields: object
        ) -> TaskInstanceRecord:
    return TaskInstanceRecord(run.dag_id, run.run_id, task_id, map_index, **fields)  # type: ignore[arg-type]


def _with_run(store: Store, *task_ids: str) -> DagRunRecord:
    run = _run()
    with store.transaction():
        store.runs.add(run)
        store.task_instances.add_many(_ti(run, t) for t in task_ids)
    return run


def _key(run: DagRunRecord, task_id: str, map_index: int = -1) -> TaskInstanceKey:
    return TaskInstanceKey(run.dag_id, run.run_id, task_id, map_index)


# -- runs ----------------------------------------------------------------------------------


def test_runs_are_added_and_read_back(store: Store) -> None:
    run = _run(conf={"limit": 5}, queued_at=DAY)
    with store.transaction():
        store.runs.add(run)
    got = store.runs.get("etl", run.run_id)
    assert got is not None
    assert (got.dag_id, got.run_id, got.logical_date, got.state, got.conf, got.run_type) == (
        "etl", run.run_id, DAY, DagRunState.QUEUED, {"limit": 5}, "scheduled"
    )
    assert (got.data_interval_start, got.data_interval_end) == (DAY, DAY + timedelta(days=1))
    assert store.runs.get("etl", "nope") is None
    assert store.runs.get("other", run.run_id) is None


def test_find_by_logical_date(store: Store) -> None:
    with store.transaction():
        store.runs.add(_run(day=0))
        store.runs.add(_run(day=1))
        store.runs.add(_run("other", day=1))
    found = store.runs.find("etl", DAY + timedelta(days=1))
    assert found is not None and found.dag_id == "etl"
    assert found.logical_date == DAY + timedelta(days=1)
    assert store.runs.find("etl", DAY + timedelta(days=5)) is None


def test_a_second_run_with_the_same_id_or_logical_date_is_refused(store: Store) -> None:
    run = _run()
    with store.transaction():
        store.runs.add(run)
    same_id = replace(_run(day=3), run_id=run.run_id)
    with pytest.raises(ConflictError, match="already has a run"), store.transaction():
        store.runs.add(same_id)
    same_date = replace(_run(), run_id="manual__other")
    with pytest.raises(ConflictError, match="already has a run"), store.transaction():
        store.runs.add(same_date)
    assert [r.run_id for r in store.runs.list()] == [run.run_id]
    # Another DAG may use the same run id and date.
    with store.transaction():
        store.runs.add(_run("other"))
    assert len(store.runs.list()) == 2


def test_list_filters_by_dag_and_states_in_logical_date_order(store: Store) -> None:
    with store.transaction():
        for day in (2, 0, 1):
            store.runs.add(_run(day=day))
        store.runs.add(_run("other", day=0))
        store.runs.set_state(store.runs.find("etl", DAY), DagRunState.RUNNING)  # type: ignore[arg-type]
    assert [r.logical_date.day for r in store.runs.list("etl")] == [1, 2, 3]
    assert [r.dag_id for r in store.runs.list()] == ["etl", "etl", "etl", "other"]
    running = store.runs.list("etl", [DagRunState.RUNNING])
    assert [r.logical_date for r in running] == [DAY]
    queued = store.runs.list(states=[DagRunState.QUEUED])
    assert len(queued) == 3
    assert store.runs.list("etl", []) == []
    assert store.runs.list("missing") == []


def test_previous_is_the_latest_earlier_run_of_the_same_dag(store: Store) -> None:
    with store.transaction():
        for day in (0, 3, 1):
            store.runs.add(_run(day=day))
        store.runs.add(_run("other", day=2))
    assert store.runs.previous("etl", DAY) is None
    prev = store.runs.previous("etl", DAY + timedelta(days=3))
    assert prev is not None and prev.logical_date == DAY + timedelta(days=1)
    prev = store.runs.previous("etl", DAY + timedelta(days=2))
    assert prev is not None and prev.logical_date == DAY + timedelta(days=1)
    prev = store.runs.previous("etl", DAY + timedelta(days=10))
    assert prev is not None and prev.logical_date == DAY + timedelta(days=3)


def test_run_state_changes_follow_the_transition_table(store: Store) -> None:
    run = _run()
    with store.transaction():
        store.runs.add(run)
        store.runs.set_state(run, DagRunState.RUNNING, start_date=DAY)
    got = store.runs.get("etl", run.run_id)
    assert got is not None
    assert (got.state, got.start_date) == (DagRunState.RUNNING, DAY)
    with pytest.raises(InvalidTransition, match="from 'running' to 'queued'"), \
            store.transaction():
        store.runs.set_state(got, DagRunState.QUEUED, note="must not be written")
    got = store.runs.get("etl", run.run_id)
    assert got is not None
    assert (got.state, got.note) == (DagRunState.RUNNING, None)
    with store.transaction():
        store.runs.set_state(got, DagRunState.SUCCESS, end_date=DAY + timedelta(hours=1))
    got = store.runs.get("etl", run.run_id)
    assert got is not None
    assert (got.state, got.end_date) == (DagRunState.SUCCESS, DAY + timedelta(hours=1))
    with pytest.raises(InvalidTransition), store.transaction():
        store.runs.set_state(got, DagRunState.RUNNING)


# -- task instances ------------------------------------------------------------------------


def test_task_instances_are_added_and_found_by_key_run_and_state(store: Store) -> None:
    run = _with_run(store, "a", "b")
    other = _run(day=1)
    with store.transaction():
        store.runs.add(other)
        store.task_instances.add_many([_ti(other, "a", pool="p", pool_slots=2,
                                           priority_weight=7, max_tries=3)])
    got = store.task_instances.get(_key(other, "a"))
    assert got is not None
    assert (got.state, got.try_number, got.max_tries, got.pool, got.pool_slots,
            got.priority_weight) == (TaskState.NONE, 0, 3, "p", 2, 7)
    assert store.task_instances.get(_key(run, "zzz")) is None
    assert sorted(t.task_id for t in store.task_instances.for_run("etl", run.run_id)) == ["a", "b"]
    assert [t.run_id for t in store.task_instances.for_run("etl", other.run_id)] == [other.run_id]
    assert store.task_instances.for_run("etl", "missing") == []
    with store.transaction():
        store.task_instances.set_state(store.task_instances.get(_key(run, "b")),  # type: ignore[arg-type]
                                       TaskState.SCHEDULED)
    scheduled = store.task_instances.in_states([TaskState.SCHEDULED])
    assert [(t.run_id, t.task_id) for t in scheduled] == [(run.run_id, "b")]
    assert len(store.task_instances.in_states([TaskState.NONE, TaskState.SCHEDULED])) == 3
    assert store.task_instances.in_states([]) == []


def test_adding_an_existing_task_instance_is_refused(store: Store) -> None:
    run = _with_run(store, "a")
    with pytest.raises(ConflictError, match="already exists"), store.transaction():
        store.task_instances.add_many([_ti(run, "a")])


def test_task_state_changes_are_checked_and_write_their_fields(store: Store) -> None:
    run = _with_run(store, "a")
    ti = store.task_instances.get(_key(run, "a"))
    assert ti is not None
    with store.transaction():
        ti = store.task_instances.set_state(ti, TaskState.SCHEDULED)
        ti = store.task_instances.set_state(ti, TaskState.QUEUED, try_number=1)
        ti = store.task_instances.set_state(ti, TaskState.RUNNING, start_date=DAY,
                                            hostname="w1", pid=99)
    assert (ti.state, ti.try_number, ti.hostname) == (TaskState.RUNNING, 1, "w1")
    got = store.task_instances.get(_key(run, "a"))
    assert got is not None
    assert (got.state, got.try_number, got.start_date, got.hostname, got.pid) == (
        TaskState.RUNNING, 1, DAY, "w1", 99
    )
    with pytest.raises(InvalidTransition, match=r"'a'.*from 'running' to 'scheduled'"), \
            store.transaction():
        store.task_instances.set_state(got, TaskState.SCHEDULED, error="not written")
    got = store.task_instances.get(_key(run, "a"))
    assert got is not None
    assert (got.state, got.error) == (TaskState.RUNNING, None)


def test_states_given_by_name_are_stored_as_states(store: Store) -> None:
    run = _with_run(store, "a")
    ti = store.task_instances.get(_key(run, "a"))
    assert ti is not None
    with store.transaction():
        ti = store.task_instances.set_state(ti, "scheduled")  # type: ignore[arg-type]
        assert store.task_instances.claim(ti, "scheduled", "queued")  # type: ignore[arg-type]
        store.runs.set_state(run, "running")  # type: ignore[arg-type]
    got = store.task_instances.get(_key(run, "a"))
    assert got is not None and got.state is TaskState.QUEUED
    got_run = store.runs.get(run.dag_id, run.run_id)
    assert got_run is not None and got_run.state is DagRunState.RUNNING
    with pytest.raises(ValueError, match="unknown task state 'sleeping'"), store.transaction():
        store.task_instances.set_state(got, "sleeping")  # type: ignore[arg-type]


def test_claim_is_a_compare_and_set(store: Store) -> None:
    run = _with_run(store, "a")
    ti = store.task_instances.get(_key(run, "a"))
    assert ti is not None
    with store.transaction():
        ti = store.task_instances.set_state(ti, TaskState.SCHEDULED)
    with store.transaction():
        first = store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                           try_number=1)
    with store.transaction():
        second = store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                            try_number=2)
    assert first is not None and (first.state, first.try_number) == (TaskState.QUEUED, 1)
    assert second is None
    got = store.task_instances.get(_key(run, "a"))
    assert got is not None
    assert (got.state, got.try_number) == (TaskState.QUEUED, 1)


def test_claim_fails_when_the_stored_state_moved_on_whatever_the_callers_copy_says(
    store: Store,
) -> None:
    run = _with_run(store, "a")
    stale = store.task_instances.get(_key(run, "a"))
    assert stale is not None
    stale_copy = TaskInstanceRecord(run.dag_id, run.run_id, "a", state=TaskState.SCHEDULED)
    # Nobody scheduled it: the stored state is still none.
    with store.transaction():
        assert not store.task_instances.claim(stale_copy, TaskState.SCHEDULED, TaskState.QUEUED)
    got = store.task_instances.get(_key(run, "a"))
    assert got is not None and got.state is TaskState.NONE
    # Claiming something that does not exist fails too.
    missing = TaskInstanceRecord(run.dag_id, run.run_id, "ghost", state=TaskState.SCHEDULED)
    with store.transaction():
        assert not store.task_instances.claim(missing, TaskState.SCHEDULED, TaskState.QUEUED)


def test_claim_still_checks_the_transition(store: Store) -> None:
    run = _with_run(store, "a")
    ti = store.task_instances.get(_key(run, "a"))
    assert ti is not None
    with pytest.raises(InvalidTransition), store.transaction():
        store.task_instances.claim(ti, TaskState.NONE, TaskState.RUNNING)
    got = store.task_instances.get(_key(run, "a"))
    assert got is not None and got.state is TaskState.NONE


def test_expand_turns_a_placeholder_into_numbered_instances(store: Store) -> None:
    run = _with_run(store, "mapped", "other")
    placeholder = store.task_instances.get(_key(run, "mapped"))
    assert placeholder is not None
    with store.transaction():
        created = store.task_instances.expand(placeholder, 3)
    assert [t.map_index for t in created] == [0, 1, 2]
    assert store.task_instances.get(_key(run, "mapped")) is None
    for index in range(3):
        got = store.task_instances.get(_key(run, "mapped", index))
        assert got is not None
        assert (got.state, got.run_id, got.pool, got.label) == (
            TaskState.NONE, run.run_id, "default_pool", f"mapped[{index}]"
        )
    labels = sorted(t.label for t in store.task_instances.for_run("etl", run.run_id))
    assert labels == ["mapped[0]", "mapped[1]", "mapped[2]", "other"]
    assert len(store.task_instances.in_states([TaskState.NONE])) == 4


def test_expand_refuses_an_expanded_instance_and_an_empty_expansion(store: Store) -> None:
    run = _with_run(store, "mapped")
    placeholder = store.task_instances.get(_key(run, "mapped"))
    assert placeholder is not None
    with pytest.raises(ValueError, match="cannot expand to 0 instances"), store.transaction():
        store.task_instances.expand(placeholder, 0)
    assert store.task_instances.get(_key(run, "mapped")) is not None
    with store.transaction():
        (only,) = store.task_instances.expand(placeholder, 1)
    with pytest.raises(ConflictError, match="already expanded"), store.transaction():
        store.task_instances.expand(only, 2)


def test_tries_are_kept_in_the_order_recorded(store: Store) -> None:
    run = _with_run(store, "a")
    key = _key(run, "a")
    with store.transaction():
        store.task_instances.record_try(TaskTryRecord(key, 1, TaskState.UP_FOR_RETRY, DAY,
                                                      DAY + timedelta(seconds=1), "boom"))
        store.task_instances.record_try(TaskTryRecord(key, 2, TaskState.SUCCESS, DAY,
                                                      DAY + timedelta(seconds=2)))
    tries = store.task_instances.tries(key)
    assert [(t.try_number, t.state, t.error) for t in tries] == [
        (1, TaskState.UP_FOR_RETRY, "boom"), (2, TaskState.SUCCESS, None)
    ]
    assert store.task_instances.tries(_key(run, "b")) == []


# -- XComs ---------------------------------------------------------------------------------


def test_xcoms_are_stored_per_instance_and_key(store: Store) -> None:
    run = _with_run(store, "a", "b")
    with store.transaction():
        store.xcoms.set_many(_key(run, "a"), [("return_value", "1"), ("rows", '"many"')])
        store.xcoms.set_many(_key(run, "b"), [("return_value", "2")])
        store.xcoms.set_many(_key(run, "a"), [("return_value", "3")])  # overwrite one key
    get = store.xcoms.get_xcom
    assert get("etl", run.run_id, "a", -1, "return_value") == "3"
    assert get("etl", run.run_id, "a", -1, "rows") == '"many"'
    assert get("etl", run.run_id, "b", -1, "return_value") == "2"
    assert get("etl", run.run_id, "a", -1, "missing") is None
    assert get("etl", run.run_id, "a", 0, "return_value") is None
    assert get("etl", "other_run", "a", -1, "return_value") is None
    with store.transaction():
        store.xcoms.clear(_key(run, "a"))
    assert get("etl", run.run_id, "a", -1, "return_value") is None
    assert get("etl", run.run_id, "a", -1, "rows") is None
    assert get("etl", run.run_id, "b", -1, "return_value") == "2"


def test_mapped_xcoms_come_back_in_map_index_order(store: Store) -> None:
    run = _with_run(store, "m", "n")
    with store.transaction():
        for index in (10, 2, 0, 1):  # 10 sorts after 2 as a number, not as text
            store.xcoms.set_many(_key(run, "m", index), [("return_value", str(index * 100))])
        store.xcoms.set_many(_key(run, "m", 3), [("other_key", "x")])
        store.xcoms.set_many(_key(run, "m"), [("return_value", '"unmapped"')])
        store.xcoms.set_many(_key(run, "n", 0), [("return_value", '"other task"')])
    assert store.xcoms.get_mapped_xcoms("etl", run.run_id, "m", "return_value") == [
        "0", "100", "200", "1000"
    ]
    assert store.xcoms.get_mapped_xcoms("etl", run.run_id, "m", "other_key") == ["x"]
    assert store.xcoms.get_mapped_xcoms("etl", run.run_id, "nothing", "return_value") == []


# -- pools ---------------------------------------------------------------------------------


def test_pools(store: Store) -> None:
    default = store.pools.slots("default_pool")
    assert default is not None and default > 0
    assert store.pools.slots("etl_pool") is None
    with store.transaction():
        store.pools.set("etl_pool", 3, "loads into the warehouse")
    assert store.pools.slots("etl_pool") == 3
    with store.transaction():
        store.pools.set("etl_pool", 0)
    assert store.pools.slots("etl_pool") == 0
    with pytest.raises(InvalidInputError, match="etl_pool"), store.transaction():
        store.pools.set("etl_pool", -1)
    assert store.pools.slots("etl_pool") == 0


# -- the scheduler over the store ----------------------------------------------------------


def test_the_scheduler_runs_a_dag_to_the_end_over_the_store(store: Store) -> None:
    with DAG("contract_dag", start_date=DAY) as dag:
        first = PythonOperator(task_id="first", python_callable=lambda: [1, 2])
        first >> EmptyOperator(task_id="second")
    scheduler = in_process_scheduler(store, [dag], lambda: DAY)
    run = scheduler.trigger(dag.dag_id, DAY, dag.timetable.data_interval_for(DAY), DAY)
    for _ in range(10):
        scheduler.tick(DAY)
    got = store.runs.get(dag.dag_id, run.run_id)
    assert got is not None and got.state is DagRunState.SUCCESS
    states = {t.task_id: t.state for t in store.task_instances.for_run(dag.dag_id, run.run_id)}
    assert states == {"first": TaskState.SUCCESS, "second": TaskState.SUCCESS}
    assert store.xcoms.get_xcom(dag.dag_id, run.run_id, "first", -1, "return_value") == "[1,2]"
    assert [t.state for t in store.task_instances.tries(_key(got, "first"))] == [TaskState.SUCCESS]
