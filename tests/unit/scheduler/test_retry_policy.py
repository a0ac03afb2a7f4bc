"""A task's retry policy: FAIL ends it at once, RETRY sets its own delay, DEFAULT (or no
matching rule) keeps the task's retries and retry_delay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from millstream import DAG
from millstream.authoring.retry_policy import (
    ExceptionRetryPolicy,
    RetryAction,
    RetryDecision,
    RetryRule,
)
from millstream.model.states import DagRunState, TaskState
from millstream.operators.python import PythonOperator

from .harness import START, Engine

POLICY = ExceptionRetryPolicy(rules=[
    RetryRule(exception=PermissionError, action=RetryAction.FAIL, reason="not retryable"),
    RetryRule(exception=ConnectionError, retry_delay=timedelta(seconds=7)),
])


def _raising(exc: BaseException) -> Any:
    def call() -> None:
        raise exc
    return call


def _engine(exc: BaseException, retries: int = 3, policy: Any = POLICY) -> tuple[Engine, Any]:
    dag = DAG("policy", start_date=START)
    PythonOperator(task_id="t", python_callable=_raising(exc), retries=retries,
                   retry_delay=timedelta(minutes=10), retry_policy=policy, dag=dag)
    engine = Engine(dag)
    return engine, engine.trigger(dag)


def test_fail_ends_the_task_at_once_whatever_retries_it_has_left() -> None:
    engine, run = _engine(PermissionError("denied"))
    run = engine.run_to_end(run)
    ti = engine.ti(run, "t")
    assert ti.state is TaskState.FAILED and ti.try_number == 1
    assert engine.run_record(run).state is DagRunState.FAILED


def test_retry_waits_for_the_rules_delay_instead_of_the_tasks() -> None:
    engine, run = _engine(ConnectionError("reset"))
    engine.tick()
    engine.tick()
    ti = engine.ti(run, "t")
    assert ti.state is TaskState.UP_FOR_RETRY
    assert ti.next_retry_at == engine.clock() + timedelta(seconds=7)


def test_no_matching_rule_keeps_the_tasks_retry_delay() -> None:
    engine, run = _engine(KeyError("k"))
    engine.tick()
    engine.tick()
    ti = engine.ti(run, "t")
    assert ti.state is TaskState.UP_FOR_RETRY
    assert ti.next_retry_at == engine.clock() + timedelta(minutes=10)


def test_retry_with_no_retries_left_fails_the_task() -> None:
    engine, run = _engine(ConnectionError("reset"), retries=1)
    run = engine.run_to_end(run)
    ti = engine.ti(run, "t")
    assert ti.state is TaskState.FAILED and ti.try_number == 2


def test_a_policy_that_raises_leaves_the_tasks_retries_in_charge() -> None:
    class Broken:
        def evaluate(self, *args: Any) -> RetryDecision:
            raise RuntimeError("policy bug")

    engine, run = _engine(PermissionError("denied"), policy=Broken())
    engine.tick()
    engine.tick()
    assert engine.ti(run, "t").state is TaskState.UP_FOR_RETRY
