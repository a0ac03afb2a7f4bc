"""Limits hold across schedulers on PostgreSQL by design: slots are counted and claimed
under one dispatch lock, which a scheduler that finds it taken waits a moment for."""

from __future__ import annotations

from sqlalchemy import Engine
from tests.autocommit import autocommit
from tests.integration.store.test_sql_store_transactions import make_run, scheduled_task
from tests.unit.scheduler.harness import START
from tests.unit.scheduler.harness import Engine as SchedulerEngine

from millstream import DAG
from millstream.model.states import TaskState
from millstream.operators.empty import EmptyOperator
from millstream.scheduler.loop import LOCK_RETRY
from millstream.store.sql import SqlStore


def _dag() -> DAG:
    with DAG("pooled", start_date=START, schedule=None) as dag:
        EmptyOperator(task_id="a", pool="single")
        EmptyOperator(task_id="b", pool="single")
    return dag


def test_a_scheduler_that_finds_the_lock_taken_claims_nothing_and_looks_again_soon(
    clean_postgres_engine: Engine,
) -> None:
    dag = _dag()
    other = autocommit(SqlStore(clean_postgres_engine))
    engine = SchedulerEngine(dag, store=SqlStore(clean_postgres_engine), held=True)
    try:
        with other.transaction():
            other.pools.set("single", 1)
        run = engine.trigger(dag)
        with other.transaction():  # another scheduler in the middle of its dispatch
            assert other.task_instances.lock_dispatch()
            result = engine.tick()
            assert engine.executor.held_ids() == set()
            assert result.next_wakeup == engine.clock() + LOCK_RETRY
        engine.clock.advance(seconds=LOCK_RETRY.total_seconds())
        engine.tick()
        assert len(engine.executor.held_ids()) == 1  # one slot in the pool
        states = {t: engine.ti(run, t).state for t in ("a", "b")}
        assert sorted(states.values()) == [TaskState.QUEUED, TaskState.SCHEDULED]
    finally:
        other.close()


def test_two_schedulers_never_queue_more_than_the_pool_holds(
    clean_postgres_engine: Engine,
) -> None:
    dag = _dag()
    first = SchedulerEngine(dag, store=SqlStore(clean_postgres_engine), held=True)
    second = SchedulerEngine(dag, store=SqlStore(clean_postgres_engine), held=True,
                             clock=first.clock)
    with first.store.transaction():
        first.store.pools.set("single", 1)
    run = first.trigger(dag)
    for _ in range(3):
        first.tick()
        second.scheduler.poke()
        second.tick()
        first.clock.advance(seconds=1)
    held = first.executor.held_ids() | second.executor.held_ids()
    assert len(held) == 1
    (task_id,) = held
    (holder,) = [e for e in (first, second) if e.executor.held_ids()]
    holder.executor.finish(task_id)
    for _ in range(3):
        first.scheduler.poke()
        first.tick()
        second.scheduler.poke()
        second.tick()
        first.clock.advance(seconds=1)
    assert {first.ti(run, t).state for t in ("a", "b")} == {TaskState.SUCCESS, TaskState.QUEUED}


def test_the_dispatch_view_takes_the_lock_and_locks_its_window(
    two_postgres_stores: tuple[SqlStore, SqlStore],
) -> None:
    """One round trip: the lock, the instances in slots, the first window (its rows
    locked for this transaction), each as the separate reads would give them."""
    first, second = two_postgres_stores
    for task_id in ("a", "b", "c"):
        scheduled_task(first, task_id)
    with first.transaction():
        (running,) = first.task_instances.for_run("etl", make_run().run_id, ["c"])
        first.task_instances.set_state(running, TaskState.QUEUED, try_number=1)
    with first.transaction():
        view = first.task_instances.dispatch_view([TaskState.QUEUED], 1)
        assert view is not None
        active, window = view
        assert [(t.task_id, t.state) for t in active] == [("c", TaskState.QUEUED)]
        assert window == first.task_instances.dispatchable(1)
        assert [t.task_id for t in window] == ["a"]
        with second.transaction():
            assert not second.task_instances.lock_dispatch()  # held by the view
            assert [t.task_id for t in second.task_instances.dispatchable(10)] == ["b"]


def test_a_dispatch_view_without_the_lock_reads_and_locks_nothing(
    two_postgres_stores: tuple[SqlStore, SqlStore],
) -> None:
    first, second = two_postgres_stores
    scheduled_task(first, "a")
    with first.transaction():
        assert first.task_instances.lock_dispatch()
        with second.transaction():
            assert second.task_instances.dispatch_view([TaskState.QUEUED], 10) is None
        # the view that lost the lock locked no row: the holder still gets it
        assert [t.task_id for t in first.task_instances.dispatchable(10)] == ["a"]
