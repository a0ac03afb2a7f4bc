"""Retries: tries counted, retry_delay honoured by tick, backoff, and no-retry failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from millstream import DAG
from millstream.exceptions import TaskFailedNoRetry
from millstream.model.states import DagRunState, TaskState
from millstream.operators.python import PythonOperator

from .harness import START, Engine


def _flaky(failures: int) -> tuple[list[int], object]:
    """A callable failing its first ``failures`` calls; returns (tries seen, callable)."""
    seen: list[int] = []

    def call(ti: object) -> str:
        seen.append(ti.try_number)  # type: ignore[attr-defined]
        if len(seen) <= failures:
            raise RuntimeError(f"failure {len(seen)}")
        return "done"

    return seen, call


def test_task_failing_twice_then_succeeding_with_two_retries_succeeds_on_try_three() -> None:
    seen, call = _flaky(2)
    dag = DAG("flaky", start_date=START)
    PythonOperator(task_id="flaky", python_callable=call, retries=2,
                   retry_delay=timedelta(seconds=30), dag=dag)
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    ti = engine.ti(run, "flaky")
    assert engine.run_record(run).state is DagRunState.SUCCESS
    assert ti.state is TaskState.SUCCESS
    assert ti.try_number == 3
    assert seen == [1, 2, 3]
    tries = engine.store.task_instances.tries(ti.key)
    assert [(t.try_number, t.state) for t in tries] == [
        (1, TaskState.UP_FOR_RETRY), (2, TaskState.UP_FOR_RETRY), (3, TaskState.SUCCESS),
    ]
    assert "failure 1" in (tries[0].error or "")
    assert tries[2].error is None


def test_retries_exhausted_fails_the_task_and_the_run() -> None:
    seen, call = _flaky(10)
    dag = DAG("exhausted", start_date=START)
    PythonOperator(task_id="always_fails", python_callable=call, retries=2,
                   retry_delay=timedelta(seconds=5), dag=dag)
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    ti = engine.ti(run, "always_fails")
    assert ti.state is TaskState.FAILED
    assert ti.try_number == 3
    assert seen == [1, 2, 3]
    assert "failure 3" in (ti.error or "")
    assert engine.run_record(run).state is DagRunState.FAILED


def test_retry_waits_for_retry_delay_and_runs_exactly_when_it_is_due() -> None:
    seen, call = _flaky(1)
    dag = DAG("delayed_retry", start_date=START)
    PythonOperator(task_id="t", python_callable=call, retries=1,
                   retry_delay=timedelta(minutes=10), dag=dag)
    engine = Engine(dag)
    run = engine.trigger(dag)
    engine.tick()  # starts the run, queues and runs try 1 (it fails)
    result = engine.tick()  # applies the failure
    ti = engine.ti(run, "t")
    failed_at = engine.clock()
    assert ti.state is TaskState.UP_FOR_RETRY
    assert ti.next_retry_at == failed_at + timedelta(minutes=10)
    assert result.next_wakeup == ti.next_retry_at

    engine.clock.now = ti.next_retry_at - timedelta(seconds=1)
    result = engine.tick()
    assert not result.worked
    assert engine.ti(run, "t").state is TaskState.UP_FOR_RETRY
    assert seen == [1]

    engine.clock.now = ti.next_retry_at
    engine.tick()  # scheduled, queued and run at the due moment
    assert seen == [1, 2]
    engine.tick()
    ti = engine.ti(run, "t")
    assert ti.state is TaskState.SUCCESS
    assert ti.try_number == 2
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_exponential_backoff_waits_grow_with_each_try_and_respect_the_cap() -> None:
    dag = DAG("backoff", start_date=START)
    base = timedelta(seconds=10)
    PythonOperator(task_id="grows", python_callable=_flaky(99)[1], retries=4, retry_delay=base,
                   retry_exponential_backoff=True, dag=dag)
    PythonOperator(task_id="capped", python_callable=_flaky(99)[1], retries=4, retry_delay=base,
                   retry_exponential_backoff=True, max_retry_delay=timedelta(seconds=25), dag=dag)
    engine = Engine(dag)
    run = engine.trigger(dag)
    waits: dict[str, list[timedelta]] = {"grows": [], "capped": []}
    for _ in range(200):
        if engine.run_record(run).state not in (DagRunState.RUNNING, DagRunState.QUEUED):
            break
        result = engine.tick()
        for task_id, found in waits.items():
            ti = engine.ti(run, task_id)
            if ti.state is TaskState.UP_FOR_RETRY and len(found) < ti.try_number:
                assert ti.end_date is not None and ti.next_retry_at is not None
                found.append(ti.next_retry_at - ti.end_date)
        if not result.worked and result.next_wakeup is not None:
            engine.clock.now = result.next_wakeup
    assert engine.run_record(run).state is DagRunState.FAILED
    grows = waits["grows"]
    assert len(grows) == 4
    for n, wait in enumerate(grows, start=1):
        minimum = base * 2 ** (n - 1)
        assert minimum <= wait < 2 * minimum
    assert grows == sorted(grows) and len(set(grows)) == 4
    capped = waits["capped"]
    assert len(capped) == 4
    assert all(wait <= timedelta(seconds=25) for wait in capped)
    assert capped[-1] == timedelta(seconds=25)


def test_without_backoff_every_wait_is_retry_delay() -> None:
    dag = DAG("fixed_delay", start_date=START)
    PythonOperator(task_id="t", python_callable=_flaky(99)[1], retries=3,
                   retry_delay=timedelta(seconds=42), dag=dag)
    engine = Engine(dag)
    run = engine.trigger(dag)
    waits: list[timedelta] = []
    for _ in range(100):
        if engine.run_record(run).state is DagRunState.FAILED:
            break
        result = engine.tick()
        ti = engine.ti(run, "t")
        if ti.state is TaskState.UP_FOR_RETRY and len(waits) < ti.try_number:
            waits.append(ti.next_retry_at - ti.end_date)  # type: ignore[operator]
        if not result.worked and result.next_wakeup is not None:
            engine.clock.now = result.next_wakeup
    assert waits == [timedelta(seconds=42)] * 3


@pytest.mark.parametrize("retries", [0, 3])
def test_task_failed_no_retry_fails_at_once_whatever_the_retries(retries: int) -> None:
    calls: list[str] = []

    def give_up() -> None:
        calls.append("run")
        raise TaskFailedNoRetry("the input is corrupt, retrying will not help")

    dag = DAG(f"no_retry_{retries}", start_date=START)
    PythonOperator(task_id="t", python_callable=give_up, retries=retries,
                   on_retry_callback=lambda ctx: calls.append("retry"),
                   on_failure_callback=lambda ctx: calls.append("failure"), dag=dag)
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    ti = engine.ti(run, "t")
    assert ti.state is TaskState.FAILED
    assert ti.try_number == 1
    assert "the input is corrupt" in (ti.error or "")
    assert calls == ["run", "failure"]
    assert engine.run_record(run).state is DagRunState.FAILED


def test_downstream_waits_while_upstream_is_up_for_retry() -> None:
    _, call = _flaky(1)
    dag = DAG("retry_then_downstream", start_date=START)
    first = PythonOperator(task_id="first", python_callable=call, retries=1,
                           retry_delay=timedelta(minutes=1), dag=dag)
    after: list[str] = []
    first >> PythonOperator(task_id="second", python_callable=lambda: after.append("x"), dag=dag)
    engine = Engine(dag)
    run = engine.trigger(dag)
    engine.tick()
    engine.tick()
    assert engine.ti(run, "first").state is TaskState.UP_FOR_RETRY
    assert engine.ti(run, "second").state is TaskState.NONE
    engine.run_to_end(run)
    assert after == ["x"]
    assert engine.states(run) == {"first": "success", "second": "success"}
