"""depends_on_past and wait_for_downstream across runs of one DAG in one store."""

from __future__ import annotations

from datetime import timedelta

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import BranchPythonOperator, PythonOperator

from .harness import START, Engine

DAY2 = START + timedelta(days=1)
DAY3 = START + timedelta(days=2)


def _dag(fail_on: set[str], **dag_kwargs: object) -> DAG:
    """``load`` depends on its past; ``extract`` and ``report`` do not."""

    def load(ds: str) -> None:
        if ds in fail_on:
            raise RuntimeError(f"load failed for {ds}")

    dag = DAG("past", start_date=START, schedule="@daily", **dag_kwargs)  # type: ignore[arg-type]
    extract = EmptyOperator(task_id="extract", dag=dag)
    loader = PythonOperator(task_id="load", python_callable=load, depends_on_past=True, dag=dag)
    extract >> loader
    EmptyOperator(task_id="report", dag=dag)
    return dag


def test_task_waits_while_the_same_task_failed_in_the_previous_run() -> None:
    dag = _dag(fail_on={"2026-01-01"})
    engine = Engine(dag)
    first = engine.run_to_end(engine.trigger(dag, START))
    assert engine.ti(first, "load").state is TaskState.FAILED

    second = engine.trigger(dag, DAY2)
    for _ in range(5):
        result = engine.tick()
    assert engine.ti(second, "extract").state is TaskState.SUCCESS
    assert engine.ti(second, "report").state is TaskState.SUCCESS
    assert engine.ti(second, "load").state is TaskState.NONE
    assert engine.run_record(second).state is DagRunState.RUNNING
    assert not result.worked  # nothing else can happen until someone clears the past


def test_task_runs_when_the_previous_run_succeeded() -> None:
    dag = _dag(fail_on=set())
    engine = Engine(dag)
    engine.run_to_end(engine.trigger(dag, START))
    second = engine.run_to_end(engine.trigger(dag, DAY2))
    assert engine.ti(second, "load").state is TaskState.SUCCESS


def test_the_first_run_does_not_wait_for_a_past_it_does_not_have() -> None:
    dag = _dag(fail_on=set())
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag, DAY2))
    assert engine.ti(run, "load").state is TaskState.SUCCESS


def test_a_skipped_past_counts_as_done() -> None:
    dag = _dag(fail_on=set())
    engine = Engine(dag, held=True)
    first = engine.trigger(dag, START)
    engine.tick()
    engine.executor.finish("extract", TaskState.SKIPPED)
    engine.executor.finish("report")
    engine.tick()
    assert engine.ti(first, "load").state is TaskState.SKIPPED
    second = engine.trigger(dag, DAY2)
    engine.tick()
    engine.executor.finish("extract", run_id=second.run_id)
    engine.tick()
    assert engine.ti(second, "load").state is TaskState.QUEUED


def test_waiting_task_goes_once_the_concurrent_previous_run_task_succeeds() -> None:
    dag = _dag(fail_on=set(), max_active_runs=2)
    engine = Engine(dag, held=True)
    first = engine.trigger(dag, START)
    second = engine.trigger(dag, DAY2)
    engine.tick()
    for run in (first, second):
        engine.executor.finish("extract", run_id=run.run_id)
    engine.tick()
    # first's load is queued; second's load waits for it, although its upstream is done.
    assert engine.ti(first, "load").state is TaskState.QUEUED
    assert engine.ti(second, "load").state is TaskState.NONE
    engine.executor.finish("load", run_id=first.run_id)
    engine.tick()
    assert engine.ti(second, "load").state is TaskState.QUEUED


def test_waiting_task_stays_when_the_concurrent_previous_run_task_fails() -> None:
    dag = _dag(fail_on=set(), max_active_runs=3)
    engine = Engine(dag, held=True)
    runs = [engine.trigger(dag, day) for day in (START, DAY2, DAY3)]
    engine.tick()
    for run in runs:
        engine.executor.finish("extract", run_id=run.run_id)
    engine.tick()
    engine.executor.finish("load", TaskState.FAILED, run_id=runs[0].run_id)
    engine.tick()
    engine.tick()
    assert engine.ti(runs[0], "load").state is TaskState.FAILED
    assert engine.ti(runs[1], "load").state is TaskState.NONE
    assert engine.ti(runs[2], "load").state is TaskState.NONE


def test_wait_for_downstream_waits_for_the_previous_runs_direct_downstream() -> None:
    dag = DAG("wait_down", start_date=START, schedule="@daily", max_active_runs=2)
    head = EmptyOperator(task_id="head", wait_for_downstream=True, dag=dag)
    tail = EmptyOperator(task_id="tail", dag=dag)
    head >> tail
    engine = Engine(dag, held=True)
    first = engine.trigger(dag, START)
    second = engine.trigger(dag, DAY2)
    engine.tick()
    assert engine.executor.held_ids() == {"head"}
    engine.executor.finish("head", run_id=first.run_id)
    engine.tick()
    # first's head succeeded but its downstream tail has not finished yet.
    assert engine.ti(first, "tail").state is TaskState.QUEUED
    assert engine.ti(second, "head").state is TaskState.NONE
    engine.executor.finish("tail", run_id=first.run_id)
    engine.tick()
    assert engine.ti(second, "head").state is TaskState.QUEUED


def test_a_past_skipped_by_a_branch_unblocks_the_next_run_by_the_end_of_its_run() -> None:
    dag = DAG("past_branch", start_date=START, schedule="@daily", max_active_runs=2)
    gate = BranchPythonOperator(task_id="gate", python_callable=lambda: "other", dag=dag)
    load = EmptyOperator(task_id="load", depends_on_past=True, dag=dag)
    other = EmptyOperator(task_id="other", dag=dag)
    gate >> [load, other]
    engine = Engine(dag, held=True)
    first = engine.trigger(dag, START)
    second = engine.trigger(dag, DAY2)
    engine.tick()
    engine.executor.finish("gate", run_id=second.run_id)  # second skips nothing
    engine.tick()
    assert engine.ti(second, "load").state is TaskState.NONE  # first's load has not ended
    engine.executor.run("gate", engine.store.xcoms, run_id=first.run_id)  # skips load
    engine.tick()
    assert engine.ti(first, "load").state is TaskState.SKIPPED
    engine.executor.finish("other", run_id=first.run_id)
    engine.tick()
    assert engine.run_record(first).state is DagRunState.SUCCESS
    engine.tick()
    assert engine.ti(second, "load").state is TaskState.QUEUED
