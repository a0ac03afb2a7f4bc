"""execution_timeout stops a try (and retries it); dagrun_timeout stops a whole run."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator

from .harness import START, Engine


def test_execution_timeout_stops_a_sleeping_task_about_when_it_expires() -> None:
    dag = DAG("sleepy", start_date=START)
    PythonOperator(task_id="sleepy", python_callable=lambda: time.sleep(10),
                   execution_timeout=timedelta(seconds=1), dag=dag)
    engine = Engine(dag)
    started = time.monotonic()
    run = engine.run_to_end(engine.trigger(dag))
    elapsed = time.monotonic() - started
    assert elapsed < 3, f"the run took {elapsed:.1f} s for a 1 s timeout"
    ti = engine.ti(run, "sleepy")
    assert ti.state is TaskState.FAILED
    assert "execution_timeout" in (ti.error or "")
    assert "'sleepy'" in (ti.error or "")
    assert engine.run_record(run).state is DagRunState.FAILED


def test_a_timed_out_try_is_retried_while_retries_remain() -> None:
    tries: list[int] = []

    def slow_first(ti: Any) -> str:
        tries.append(ti.try_number)
        if ti.try_number == 1:
            time.sleep(10)
        return "second try was quick"

    retried: list[str] = []
    dag = DAG("timeout_retry", start_date=START)
    PythonOperator(task_id="t", python_callable=slow_first, retries=1,
                   retry_delay=timedelta(seconds=30), execution_timeout=timedelta(seconds=0.3),
                   on_retry_callback=lambda ctx: retried.append(type(ctx["exception"]).__name__),
                   dag=dag)
    engine = Engine(dag)
    started = time.monotonic()
    run = engine.run_to_end(engine.trigger(dag))
    # The first try's 10 s sleep was cut short. The bound stays well under the sleep but
    # far above the usual 0.35 s: late in a full suite this once took 3.7 s. The error
    # and the retry callback below show the timeout did it.
    assert time.monotonic() - started < 8
    ti = engine.ti(run, "t")
    assert tries == [1, 2]
    assert retried == ["TaskTimeout"]
    assert ti.state is TaskState.SUCCESS
    assert ti.try_number == 2
    history = engine.store.task_instances.tries(ti.key)
    assert history[0].state is TaskState.UP_FOR_RETRY
    assert "execution_timeout" in (history[0].error or "")


def _timeout_dag(**kwargs: Any) -> DAG:
    dag = DAG("run_timeout", start_date=START, dagrun_timeout=timedelta(minutes=10), **kwargs)
    a = EmptyOperator(task_id="a", dag=dag)
    b = EmptyOperator(task_id="b", dag=dag)
    c = EmptyOperator(task_id="c", dag=dag)
    EmptyOperator(task_id="quick", dag=dag)
    a >> b >> c
    return dag


def test_dagrun_timeout_fails_the_run_failing_started_and_skipping_unstarted_tasks() -> None:
    reasons: list[str] = []
    dag = _timeout_dag(on_failure_callback=lambda ctx: reasons.append(ctx["reason"]))
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.start("a")
    engine.executor.finish("quick")
    engine.clock.advance(minutes=5)
    result = engine.tick()
    assert engine.run_record(run).state is DagRunState.RUNNING
    assert result.next_wakeup == START + timedelta(minutes=10)

    engine.clock.advance(minutes=5)  # exactly at the deadline
    engine.tick()
    assert engine.run_record(run).state is DagRunState.FAILED
    assert engine.run_record(run).end_date == engine.clock()
    assert engine.states(run) == {"a": "failed", "b": "skipped", "c": "skipped", "quick": "success"}
    assert "dagrun_timeout" in (engine.ti(run, "a").error or "")
    assert engine.executor.terminated == [engine.executor.key("a")]  # its process is stopped
    assert reasons == ["timed_out"]

    # The worker reporting later cannot revive the task of a stopped run.
    engine.executor.finish("a", TaskState.SUCCESS)
    engine.tick()
    assert engine.ti(run, "a").state is TaskState.FAILED
    assert engine.run_record(run).state is DagRunState.FAILED


def test_dagrun_timeout_skips_a_task_waiting_to_retry() -> None:
    dag = DAG("run_timeout_retry", start_date=START, dagrun_timeout=timedelta(minutes=10))
    PythonOperator(task_id="flaky", python_callable=lambda: 1 / 0, retries=5,
                   retry_delay=timedelta(minutes=30), dag=dag)
    engine = Engine(dag)
    run = engine.trigger(dag)
    engine.tick()
    result = engine.tick()
    assert engine.ti(run, "flaky").state is TaskState.UP_FOR_RETRY
    # The run's deadline comes before the retry; the scheduler wakes for it.
    assert result.next_wakeup == START + timedelta(minutes=10)
    engine.clock.now = result.next_wakeup
    engine.tick()
    assert engine.run_record(run).state is DagRunState.FAILED
    assert engine.ti(run, "flaky").state is TaskState.SKIPPED


def test_a_run_that_ends_before_its_timeout_is_not_failed() -> None:
    dag = _timeout_dag()
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.run_record(run).state is DagRunState.SUCCESS
    engine.clock.advance(hours=1)
    engine.tick()
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_a_try_stopped_by_dagrun_timeout_counts_once_as_the_failed_try_it_was_recorded() -> None:
    from millstream.observability import families

    def tries(task: str, state: str) -> float:
        return families.GROUPS.scheduler.get_sample_value(
            "millstream_task_tries_finished_total",
            {"dag": "run_timeout_counted", "task": task, "state": state}) or 0.0

    def durations(task: str) -> float:
        return families.GROUPS.scheduler.get_sample_value(
            "millstream_task_duration_seconds_count",
            {"dag": "run_timeout_counted", "task": task}) or 0.0

    dag = DAG("run_timeout_counted", start_date=START, dagrun_timeout=timedelta(minutes=10))
    EmptyOperator(task_id="a", retries=3, dag=dag)
    EmptyOperator(task_id="quick", dag=dag)
    before = {(t, s): tries(t, s) for t in ("a", "quick")
              for s in ("success", "failed", "up_for_retry")}
    before_durations = durations("a")
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.start("a")
    engine.executor.finish("quick")
    engine.tick()
    engine.clock.advance(minutes=10)
    engine.tick()
    assert engine.states(run) == {"a": "failed", "quick": "success"}
    # The executor's late report of the stopped try (up_for_retry: it had retries left)
    # is not what was recorded, and is not counted again.
    engine.executor.finish("a", TaskState.UP_FOR_RETRY)
    engine.tick()

    after = {key: tries(*key) - value for key, value in before.items()}
    assert after == {("a", "success"): 0, ("a", "failed"): 1, ("a", "up_for_retry"): 0,
                     ("quick", "success"): 1, ("quick", "failed"): 0,
                     ("quick", "up_for_retry"): 0}
    assert durations("a") - before_durations == 1
