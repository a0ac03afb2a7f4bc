"""The tick itself: what it reports, and picking up runs a previous scheduler left behind."""

from __future__ import annotations

from datetime import timedelta

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.scheduler.loop import TickResult
from millstream.testing import in_process_scheduler

from .harness import START, Engine


def _chain() -> DAG:
    with DAG("restartable", start_date=START) as dag:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b") >> EmptyOperator(task_id="c")
    return dag


def test_a_new_scheduler_over_the_same_store_finishes_a_run_in_progress() -> None:
    dag = _chain()
    first = Engine(dag, held=True)
    run = first.trigger(dag)
    first.tick()
    first.executor.finish("a")
    first.executor.slots = 0  # b becomes scheduled but is never handed to this executor
    first.tick()
    assert first.states(run) == {"a": "success", "b": "scheduled", "c": "none"}
    # The first scheduler goes away; another one takes over the store.
    second = in_process_scheduler(first.raw_store, [dag], first.clock)
    for _ in range(10):
        second.tick(first.clock())
    assert first.run_record(run).state is DagRunState.SUCCESS
    assert first.states(run) == {"a": "success", "b": "success", "c": "success"}


def test_an_idle_tick_reports_no_work_and_no_wakeup() -> None:
    dag = _chain()
    engine = Engine(dag)
    assert engine.tick() == TickResult(worked=False, next_wakeup=None)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.run_record(run).state is DagRunState.SUCCESS
    result = engine.tick()
    assert not result.worked and result.next_wakeup is None


def test_a_tick_that_makes_progress_says_so() -> None:
    dag = _chain()
    engine = Engine(dag)
    engine.trigger(dag)
    assert engine.tick().worked


def test_next_wakeup_is_the_earliest_timed_event() -> None:
    dag = DAG("wakeups", start_date=START, dagrun_timeout=timedelta(hours=2))
    PythonOperator(task_id="soon", python_callable=lambda: 1 / 0, retries=1,
                   retry_delay=timedelta(minutes=5), dag=dag)
    PythonOperator(task_id="later", python_callable=lambda: 1 / 0, retries=1,
                   retry_delay=timedelta(minutes=50), dag=dag)
    engine = Engine(dag)
    run = engine.trigger(dag)
    engine.tick()
    engine.tick()
    result = engine.tick()  # nothing left to do: the result says when to look again
    assert not result.worked
    assert engine.ti(run, "soon").state is TaskState.UP_FOR_RETRY
    assert result.next_wakeup == START + timedelta(minutes=5)


def test_runs_of_dags_the_scheduler_does_not_know_are_left_alone() -> None:
    known, unknown = _chain(), DAG("unknown", start_date=START)
    EmptyOperator(task_id="x", dag=unknown)
    other = Engine(unknown)
    stray = other.trigger(unknown)
    engine = Engine(known, store=other.store)
    run = engine.run_to_end(engine.trigger(known))
    assert engine.run_record(run).state is DagRunState.SUCCESS
    assert stray.state is DagRunState.QUEUED
    assert engine.ti(stray, "x").state is TaskState.NONE


def test_a_starting_run_has_its_dag_file_prepared_before_its_first_task_is_sent() -> None:
    dag = _chain()
    engine = Engine(dag, held=True)
    engine.trigger(dag)
    engine.tick()
    assert engine.executor.calls == [f"prepare {dag.fileloc}", "submit a"]
    engine.executor.finish("a")
    engine.tick()
    assert engine.executor.calls[2:] == ["submit b"]  # once per run, as it starts
    second = engine.trigger(dag, START + timedelta(days=1))
    engine.tick()
    assert engine.executor.calls[3:] == [f"prepare {dag.fileloc}", "submit a"]
    assert engine.run_record(second).state is DagRunState.RUNNING
