"""Dispatch limits observed with work held in flight: pools, concurrency, priority, runs."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta
from typing import Any

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.store.records import DagRunRecord

from .harness import START, Engine

ACTIVE = (TaskState.QUEUED, TaskState.RUNNING)


def _active(engine: Engine, run: DagRunRecord) -> list[str]:
    return sorted(ti.label for ti in engine.store.task_instances.for_run(run.dag_id, run.run_id)
                  if ti.state in ACTIVE)


def _drain(engine: Engine, run: DagRunRecord, check: Any, max_ticks: int = 200) -> list[str]:
    """Start and finish held work one workload per tick, checking ``check`` after each tick.

    Returns the labels in the order they were finished.
    """
    order: list[str] = []
    for _ in range(max_ticks):
        engine.tick()
        check()
        if engine.run_record(run).state is not DagRunState.RUNNING:
            return order
        held = sorted(engine.executor.held, key=lambda k: engine.executor.submitted.index(k))
        if held:
            key = held[0]
            engine.executor.start(key.task_id, key.map_index, key.run_id)
            engine.tick()
            check()
            engine.executor.finish(key.task_id, map_index=key.map_index, run_id=key.run_id)
            order.append(key.task_id if key.map_index < 0 else f"{key.task_id}[{key.map_index}]")
    raise AssertionError("run did not finish")


def test_a_pool_of_one_slot_never_has_two_tasks_queued_or_running() -> None:
    dag = DAG("pool_one", start_date=START)
    for i in range(4):
        EmptyOperator(task_id=f"t{i}", pool="single", dag=dag)
    EmptyOperator(task_id="free", dag=dag)
    engine = Engine(dag, held=True)
    engine.store.pools.set("single", 1)
    run = engine.trigger(dag)
    peak: Counter[str] = Counter()

    def check() -> None:
        in_pool = [ti for ti in engine.store.task_instances.for_run(dag.dag_id, run.run_id)
                   if ti.pool == "single" and ti.state in ACTIVE]
        assert len(in_pool) <= 1, [ti.label for ti in in_pool]
        peak["single"] = max(peak["single"], len(in_pool))

    engine.tick()
    assert engine.executor.held_ids() in ({"t0", "free"}, {"t1", "free"}, {"t2", "free"},
                                          {"t3", "free"})
    order = _drain(engine, run, check)
    assert sorted(order) == ["free", "t0", "t1", "t2", "t3"]
    assert peak["single"] == 1
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_pool_slots_count_against_the_pool_size() -> None:
    dag = DAG("pool_slots", start_date=START)
    EmptyOperator(task_id="big1", pool="p", pool_slots=2, priority_weight=10, dag=dag)
    EmptyOperator(task_id="big2", pool="p", pool_slots=2, priority_weight=9, dag=dag)
    EmptyOperator(task_id="small", pool="p", pool_slots=1, priority_weight=1, dag=dag)
    EmptyOperator(task_id="too_big", pool="p", pool_slots=4, dag=dag)
    engine = Engine(dag, held=True)
    engine.store.pools.set("p", 3)
    run = engine.trigger(dag)
    engine.tick()
    # big1 (2 slots) fits, big2 would make 4 > 3, small makes exactly 3.
    assert engine.executor.held_ids() == {"big1", "small"}
    engine.executor.finish("small")
    engine.tick()
    assert engine.executor.held_ids() == {"big1"}  # 2 + 2 > 3 still
    engine.executor.finish("big1")
    engine.tick()
    assert engine.executor.held_ids() == {"big2"}
    engine.executor.finish("big2")
    engine.tick()
    # A task needing more slots than the pool has waits for ever instead of crashing.
    assert engine.executor.held_ids() == set()
    assert engine.ti(run, "too_big").state is TaskState.SCHEDULED
    assert engine.run_record(run).state is DagRunState.RUNNING


def test_max_active_tasks_limits_instances_of_the_dag_in_flight() -> None:
    dag = DAG("max_tasks", start_date=START, max_active_tasks=2)
    for i in range(5):
        EmptyOperator(task_id=f"t{i}", dag=dag)
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)

    def check() -> None:
        assert len(_active(engine, run)) <= 2

    engine.tick()
    assert len(engine.executor.held) == 2
    order = _drain(engine, run, check)
    assert sorted(order) == [f"t{i}" for i in range(5)]


def test_max_active_tis_per_dag_limits_a_mapped_task() -> None:
    with DAG("per_task_limit", start_date=START) as dag:
        EmptyOperator.partial(task_id="mapped", max_active_tis_per_dag=1).expand(
            doc=["a", "b", "c"]
        )
        EmptyOperator(task_id="other")
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)

    def check() -> None:
        assert sum(1 for label in _active(engine, run) if label.startswith("mapped")) <= 1

    engine.tick()
    held = engine.executor.held_ids()
    assert "other" in held and len(held) == 2
    order = _drain(engine, run, check)
    assert sorted(order) == ["mapped[0]", "mapped[1]", "mapped[2]", "other"]


def test_executor_open_slots_bound_what_is_queued() -> None:
    dag = DAG("slots", start_date=START)
    for i in range(5):
        EmptyOperator(task_id=f"t{i}", dag=dag)
    engine = Engine(dag, held=True, slots=2)
    run = engine.trigger(dag)
    engine.tick()
    assert len(engine.executor.held) == 2
    assert len([ti for ti in engine.store.task_instances.for_run(dag.dag_id, run.run_id)
                if ti.state is TaskState.SCHEDULED]) == 3


def test_higher_priority_is_dispatched_first_with_downstream_weights_summed() -> None:
    with DAG("priority", start_date=START) as dag:
        # root's effective weight is 1 + 3 downstream tasks of weight 1 = 4
        root = EmptyOperator(task_id="root")
        root >> EmptyOperator(task_id="d1") >> EmptyOperator(task_id="d2") >> EmptyOperator(
            task_id="d3"
        )
        EmptyOperator(task_id="three", priority_weight=3)
        EmptyOperator(task_id="five", priority_weight=5)
        EmptyOperator(task_id="flat", priority_weight=1)
    engine = Engine(dag, held=True, slots=1)
    run = engine.trigger(dag)
    assert engine.ti(run, "root").priority_weight == 4
    order = []
    for _ in range(20):
        engine.tick()
        if not engine.executor.held:
            break
        (key,) = engine.executor.held
        order.append(key.task_id)
        engine.executor.finish(key.task_id)
    # d1 (weight 3) ties with "three" and wins on task id; d2 (2) comes before flat (1).
    assert order == ["five", "root", "d1", "three", "d2", "d3", "flat"]


def test_max_active_runs_keeps_the_second_run_queued_until_the_first_finishes() -> None:
    dag = DAG("one_run_at_a_time", start_date=START, schedule="@daily", max_active_runs=1)
    EmptyOperator(task_id="t", dag=dag)
    engine = Engine(dag, held=True)
    first = engine.trigger(dag, START)
    second = engine.trigger(dag, START.replace(day=2))
    engine.tick()
    assert engine.run_record(first).state is DagRunState.RUNNING
    assert engine.run_record(second).state is DagRunState.QUEUED
    assert engine.executor.held_ids() == {"t"}
    engine.executor.start("t", run_id=first.run_id)
    engine.tick()
    assert engine.run_record(second).state is DagRunState.QUEUED
    engine.executor.finish("t", run_id=first.run_id)
    engine.tick()
    assert engine.run_record(first).state is DagRunState.SUCCESS
    engine.tick()
    assert engine.run_record(second).state is DagRunState.RUNNING
    assert engine.run_record(second).start_date == engine.clock()
    assert [k.run_id for k in engine.executor.held] == [second.run_id]


def test_max_active_runs_two_lets_two_of_three_runs_go() -> None:
    dag = DAG("two_runs", start_date=START, schedule="@daily", max_active_runs=2)
    EmptyOperator(task_id="t", dag=dag)
    engine = Engine(dag, held=True)
    runs = [engine.trigger(dag, START.replace(day=d)) for d in (1, 2, 3)]
    engine.tick()
    assert [engine.run_record(r).state for r in runs] == [DagRunState.RUNNING, DagRunState.RUNNING,
                                       DagRunState.QUEUED]


def test_a_task_in_an_unknown_pool_waits_without_blocking_others(caplog: Any) -> None:
    dag = DAG("unknown_pool", start_date=START)
    EmptyOperator(task_id="lost", pool="no_such_pool", dag=dag)
    ok: list[str] = []
    PythonOperator(task_id="fine", python_callable=lambda: ok.append("ran"), dag=dag)
    engine = Engine(dag)
    run = engine.trigger(dag)
    with caplog.at_level(logging.WARNING, logger="millstream.scheduler"):
        for _ in range(3):
            engine.tick()
    assert ok == ["ran"]
    assert engine.ti(run, "lost").state is TaskState.SCHEDULED
    assert "no_such_pool" in caplog.text
    assert engine.run_record(run).state is DagRunState.RUNNING
    engine.store.pools.set("no_such_pool", 1)
    engine.scheduler.poke()  # the pool was created outside the scheduler
    engine.run_to_end(run)
    assert engine.states(run) == {"lost": "success", "fine": "success"}


def test_a_pool_of_zero_slots_runs_nothing() -> None:
    dag = DAG("zero_pool", start_date=START)
    EmptyOperator(task_id="t", pool="closed", dag=dag)
    engine = Engine(dag, held=True)
    engine.store.pools.set("closed", 0)
    run = engine.trigger(dag)
    engine.tick()
    result = engine.tick()
    assert engine.executor.held == {}
    assert engine.ti(run, "t").state is TaskState.SCHEDULED
    assert not result.worked


def test_equal_priorities_go_to_the_run_with_the_earlier_logical_date() -> None:
    dag = DAG("fair_runs", start_date=START, schedule="@daily", max_active_runs=3)
    EmptyOperator(task_id="t", dag=dag)
    engine = Engine(dag, held=True, slots=1)
    interval = dag.timetable.data_interval_for
    later = START + timedelta(days=2)
    # A manual run of a later day, then the scheduled run of an earlier day: the run ids
    # sort the other way round ("manual__" < "scheduled__"), the logical dates do not.
    engine.scheduler.trigger(dag.dag_id, later, interval(later), engine.clock())
    earlier = engine.scheduler.trigger(dag.dag_id, START, interval(START), engine.clock(),
                                       run_type="scheduled")
    engine.tick()
    assert [k.run_id for k in engine.executor.held] == [earlier.run_id]


def test_many_blocked_high_priority_tasks_do_not_starve_the_rest() -> None:
    busy = DAG("busy_pool", start_date=START)
    for i in range(100):  # far more than one dispatch window, all waiting for one slot
        EmptyOperator(task_id=f"narrow{i:03d}", pool="narrow", priority_weight=10, dag=busy)
    other = DAG("other_dag", start_date=START)
    EmptyOperator(task_id="lowly", dag=other)
    engine = Engine(busy, other, held=True, slots=4)
    engine.store.pools.set("narrow", 1)
    engine.trigger(busy)
    engine.trigger(other)
    engine.tick()
    engine.tick()
    held = engine.executor.held_ids()
    assert "lowly" in held
    assert len([t for t in held if t.startswith("narrow")]) == 1
