"""Applying executor events: starts, outcomes, stale tries, XComs and branch skips."""

from __future__ import annotations

from datetime import timedelta

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent
from millstream.scheduler.tick_reads import TickReads
from millstream.store.records import TaskInstanceKey

from .harness import START, Engine


def _pair() -> DAG:
    dag = DAG("events", start_date=START, schedule="@daily", max_active_runs=4)
    EmptyOperator(task_id="a", retries=1, retry_delay=timedelta(minutes=1), dag=dag) >> (
        EmptyOperator(task_id="b", dag=dag)
    )
    return dag


def test_started_event_moves_queued_to_running_and_records_the_worker() -> None:
    dag = _pair()
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    assert engine.ti(run, "a").state is TaskState.QUEUED
    engine.clock.advance(seconds=3)
    engine.executor.start("a")
    engine.tick()
    ti = engine.ti(run, "a")
    assert ti.state is TaskState.RUNNING
    assert (ti.hostname, ti.pid, ti.start_date) == ("worker-1", 4242, engine.clock())


def test_finished_event_without_a_started_event_still_finishes_the_task() -> None:
    dag = _pair()
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.finish("a", xcoms=(("return_value", "42"),))
    engine.tick()
    ti = engine.ti(run, "a")
    assert ti.state is TaskState.SUCCESS
    assert ti.start_date == ti.end_date == engine.clock()
    assert engine.store.xcoms.get_xcom(dag.dag_id, run.run_id, "a", -1, "return_value") == "42"
    assert engine.ti(run, "b").state is TaskState.QUEUED


def test_outcomes_of_an_old_try_are_ignored() -> None:
    dag = _pair()
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    first = engine.executor.finish("a", TaskState.UP_FOR_RETRY, error="boom")
    engine.tick()
    engine.clock.advance(minutes=1)
    engine.tick()
    ti = engine.ti(run, "a")
    assert (ti.state, ti.try_number) == (TaskState.QUEUED, 2)

    # A duplicate report of try 1 (say, from a worker that was presumed dead) arrives.
    engine.executor.events.append(TaskStartedEvent(first.key, 1, engine.clock()))
    engine.executor.events.append(TaskFinishedEvent(
        first.key, 1, TaskState.SUCCESS, engine.clock(), engine.clock(),
        xcoms=(("return_value", '"stale"'),),
    ))
    engine.tick()
    ti = engine.ti(run, "a")
    assert (ti.state, ti.try_number) == (TaskState.QUEUED, 2)
    assert engine.store.xcoms.get_xcom(dag.dag_id, run.run_id, "a", -1, "return_value") is None
    assert engine.ti(run, "b").state is TaskState.NONE
    assert [t.try_number for t in engine.store.task_instances.tries(ti.key)] == [1]

    engine.executor.finish("a")
    engine.tick()
    assert engine.ti(run, "a").state is TaskState.SUCCESS


def test_outcome_for_a_task_that_already_finished_is_ignored() -> None:
    dag = _pair()
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    event = engine.executor.finish("a")
    engine.tick()
    engine.executor.events.append(TaskFinishedEvent(
        event.key, event.try_number, TaskState.FAILED, engine.clock(), engine.clock(),
    ))
    engine.tick()
    assert engine.ti(run, "a").state is TaskState.SUCCESS
    assert len(engine.store.task_instances.tries(event.key)) == 1


def test_events_for_unknown_dags_and_tasks_are_ignored() -> None:
    dag = _pair()
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.executor.events.append(TaskFinishedEvent(
        TaskInstanceKey("no_such_dag", run.run_id, "a"), 1, TaskState.SUCCESS,
        engine.clock(), engine.clock(),
    ))
    engine.executor.events.append(TaskStartedEvent(
        TaskInstanceKey(dag.dag_id, "no_such_run", "a"), 1, engine.clock(),
    ))
    engine.executor.events.append(TaskFinishedEvent(
        TaskInstanceKey(dag.dag_id, "no_such_run", "a"), 1, TaskState.SUCCESS,
        engine.clock(), engine.clock(),
    ))
    engine.tick()
    assert engine.ti(run, "a").state is TaskState.QUEUED


def _branchy() -> DAG:
    with DAG("branch_events", start_date=START, schedule="@daily", max_active_runs=2) as dag:
        branch = EmptyOperator(task_id="branch")
        early = EmptyOperator(task_id="early", trigger_rule="always")
        left = EmptyOperator(task_id="left")
        right = EmptyOperator(task_id="right")
        left_after = EmptyOperator(task_id="left_after")
        branch >> [early, left, right]
        left >> left_after
    return dag


def test_branch_skip_requests_skip_only_tasks_that_have_not_started() -> None:
    dag = _branchy()
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    assert engine.executor.held_ids() == {"branch", "early"}
    engine.executor.start("early")
    engine.executor.finish("branch", skip_task_ids=("early", "left"))
    engine.tick()
    assert engine.ti(run, "early").state is TaskState.RUNNING  # already started: not skipped
    assert engine.ti(run, "left").state is TaskState.SKIPPED
    assert engine.ti(run, "left_after").state is TaskState.SKIPPED  # skip propagates
    assert engine.ti(run, "right").state is TaskState.QUEUED
    skipped = engine.ti(run, "left")
    assert skipped.start_date == skipped.end_date == engine.clock()


def test_branch_skip_requests_touch_only_their_own_run() -> None:
    dag = _branchy()
    engine = Engine(dag, held=True)
    first = engine.trigger(dag, START)
    second = engine.trigger(dag, START + timedelta(days=1))
    engine.tick()
    engine.executor.finish("branch", run_id=first.run_id, skip_task_ids=("left",))
    engine.executor.finish("branch", run_id=second.run_id, skip_task_ids=("right",))
    engine.tick()
    assert engine.ti(first, "left").state is TaskState.SKIPPED
    assert engine.ti(first, "right").state is TaskState.QUEUED
    assert engine.ti(second, "left").state is TaskState.QUEUED
    assert engine.ti(second, "right").state is TaskState.SKIPPED


def test_skip_requests_of_a_failed_try_are_not_applied() -> None:
    dag = _branchy()
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    # The runtime sends skips only with success; a failure carrying some must not skip.
    engine.executor.finish("branch", TaskState.FAILED, skip_task_ids=("left",))
    engine.tick()
    assert engine.ti(run, "left").state is TaskState.UPSTREAM_FAILED
    assert engine.ti(run, "right").state is TaskState.UPSTREAM_FAILED


def test_up_for_retry_outcome_sets_next_retry_from_the_end_of_the_try() -> None:
    dag = _pair()
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.clock.advance(seconds=20)
    engine.executor.finish("a", TaskState.UP_FOR_RETRY, error="transient")
    engine.tick()
    ti = engine.ti(run, "a")
    assert ti.state is TaskState.UP_FOR_RETRY
    assert ti.next_retry_at == engine.clock() + timedelta(minutes=1)
    assert ti.error == "transient"
    assert engine.run_record(run).state is DagRunState.RUNNING


def test_a_start_and_end_in_one_batch_are_one_write_that_keeps_the_start() -> None:
    dag = DAG("folded", start_date=START)
    EmptyOperator(task_id="quick", dag=dag)
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.start("quick")
    engine.clock.advance(seconds=2)
    engine.executor.finish("quick")
    engine.tick()  # both events arrive in the same batch
    ti = engine.ti(run, "quick")
    assert ti.state is TaskState.SUCCESS
    assert (ti.hostname, ti.pid) == ("worker-1", 4242)
    assert ti.start_date == START and ti.end_date == START + timedelta(seconds=2)


def test_the_instances_of_a_ticks_outcomes_are_read_run_by_run() -> None:
    with DAG("wide", start_date=START, schedule=None) as dag:
        for name in ("a", "b", "c"):
            EmptyOperator(task_id=name)
    engine = Engine(dag, held=True)
    first = engine.trigger(dag)
    second = engine.trigger(dag, START + timedelta(days=1))
    engine.tick()
    outcomes = [TaskFinishedEvent(TaskInstanceKey("wide", run.run_id, name, index), 1,
                                  TaskState.SUCCESS, START, START)
                for run, name, index in [(first, "a", -1), (first, "c", -1),
                                         (second, "b", -1), (second, "b", 3)]]
    with engine.store.transaction():
        read = TickReads().read(engine.store, engine.scheduler.dags, outcomes)
    # The unmapped instances asked for, and only those (a map index is read on its own).
    assert sorted((k.run_id, k.task_id) for k in read) == [
        (first.run_id, "a"), (first.run_id, "c"), (second.run_id, "b")]
    assert all(ti.state is TaskState.QUEUED and ti.key == key for key, ti in read.items())
    for run in (first, second):  # and the outcomes of one tick are applied from them
        for name in ("a", "b", "c"):
            engine.executor.finish(name, run_id=run.run_id)
    engine.tick()
    assert all(engine.ti(run, name).state is TaskState.SUCCESS
               for run in (first, second) for name in ("a", "b", "c"))
