"""How a task's own code ends it: TaskSkipped, TaskFailedNoRetry, retries and timeouts."""

from __future__ import annotations

import time
from datetime import timedelta

from millstream import DAG, task
from millstream.exceptions import TaskFailedNoRetry, TaskSkipped
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator


def test_task_skipped_ends_the_task_skipped_and_skips_all_success_downstream():
    def decide():
        raise TaskSkipped("nothing to do today")

    with DAG("skipping") as the_dag:
        skipper = PythonOperator(task_id="skipper", python_callable=decide, retries=3)
        after = EmptyOperator(task_id="after")
        tolerant = EmptyOperator(task_id="tolerant", trigger_rule="none_failed")
        skipper >> after
        skipper >> tolerant
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert result.state == "success"
    assert result.task_states == {"skipper": "skipped", "after": "skipped",
                                  "tolerant": "success"}
    assert result.tasks[0].tries == 1
    assert result.tasks[0].error is None


def test_task_failed_no_retry_fails_at_once_despite_retries():
    calls = []

    @task(retries=5)
    def fatal():
        calls.append(1)
        raise TaskFailedNoRetry("the input file is corrupt")

    with DAG("no_retry") as the_dag:
        fatal() >> EmptyOperator(task_id="after")
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert result.state == "failed"
    assert result.task_states == {"fatal": "failed", "after": "upstream_failed"}
    fatal_result = result.tasks[0]
    assert fatal_result.tries == 1
    assert calls == [1]
    assert "TaskFailedNoRetry: the input file is corrupt" in fatal_result.error


def test_an_ordinary_error_uses_every_retry():
    calls = []

    @task(retries=2, retry_delay=timedelta(hours=1))
    def broken():
        calls.append(1)
        raise ValueError("still broken")

    with DAG("retries") as the_dag:
        broken()
    started = time.monotonic()
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert time.monotonic() - started < 2  # the hour-long delays were skipped
    assert result.task_states == {"broken": "failed"}
    assert result.tasks[0].tries == 3
    assert len(calls) == 3
    assert "ValueError: still broken" in result.tasks[0].error


def test_retry_succeeds_after_a_transient_error():
    @task(retries=1, retry_delay=0)
    def transient(ti=None):
        if ti.try_number == 1:
            raise ConnectionError("database restarting")
        return ti.try_number

    with DAG("transient") as the_dag:
        transient()
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.xcom_pull("transient") == 2
    assert result.tasks[0].tries == 2
    assert result.tasks[0].error is None


def test_execution_timeout_of_a_python_task_fails_each_try():
    with DAG("slow_python") as the_dag:
        PythonOperator(task_id="slow", python_callable=lambda: time.sleep(5),
                       execution_timeout=timedelta(seconds=0.2), retries=1)
    started = time.monotonic()
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert time.monotonic() - started < 2
    assert result.task_states == {"slow": "failed"}
    assert result.tasks[0].tries == 2
    assert "task 'slow' exceeded its execution_timeout of 0.2 s" in result.tasks[0].error


def test_a_non_json_return_value_fails_the_task_naming_it():
    with DAG("not_json") as the_dag:
        PythonOperator(task_id="setty", python_callable=lambda: {1, 2})
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"setty": "failed"}
    assert "task 'setty': XCom 'return_value' must be JSON-serializable" in result.tasks[0].error


def test_do_xcom_push_false_pushes_nothing():
    with DAG("quiet") as the_dag:
        PythonOperator(task_id="quiet", python_callable=lambda: {1, 2}, do_xcom_push=False)
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"quiet": "success"}
    assert result.xcom_pull("quiet") is None
