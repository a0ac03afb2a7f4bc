"""dag.test(): one run through the real scheduler in memory, as users test their DAGs."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from millstream import DAG, Param
from millstream.exceptions import InvalidInputError
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.testing import parse_logical_date, run_dag_test

DAGS = Path(__file__).resolve().parent.parent / "dags"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"engine_dags_{name}", DAGS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_chain_of_100_tasks_succeeds_in_order() -> None:
    dag = _load("engine_chain").dag
    result = dag.test("2026-01-01")
    assert result.succeeded and result.state == "success"
    assert [t.label for t in result.tasks] == [f"step_{i:03d}" for i in range(100)]
    assert set(result.task_states.values()) == {"success"}
    assert all(t.tries == 1 for t in result.tasks)
    assert result.run_id == "manual__2026-01-01T00:00:00+00:00"


def test_retries_branch_and_mapping_in_one_dag_with_fast_retries() -> None:
    dag = _load("engine_retry_branch").dag
    # retry_delay is an hour: without fast_retries this would wait for it.
    result = dag.test(datetime(2026, 1, 1), fast_retries=True)
    assert result.state == "success"
    assert result.task_states == {
        "choose": "success", "full_load": "success", "incremental": "skipped",
        "flaky": "success", "load[0]": "success", "load[1]": "success", "load[2]": "success",
        "summarize": "success", "done": "success",
    }
    (flaky,) = [t for t in result.tasks if t.label == "flaky"]
    assert flaky.tries == 2
    assert result.xcom_pull("load") == [10, 20, 30]
    assert result.xcom_pull("summarize") == 60


def test_conf_overrides_params() -> None:
    dag = _load("engine_retry_branch").dag
    result = dag.test("2026-01-02", conf={"mode": "incremental"}, fast_retries=True)
    assert result.state == "success"
    assert result.task_states["incremental"] == "success"
    assert result.task_states["full_load"] == "skipped"
    assert result.task_states["flaky"] == "skipped"
    assert result.task_states["done"] == "success"


def test_a_failing_task_fails_the_result_with_its_error() -> None:
    dag = DAG("test_failure", start_date=datetime(2026, 1, 1))
    PythonOperator(task_id="bad", python_callable=lambda: {}["missing"], dag=dag)
    result = run_dag_test(dag, "2026-01-01")
    assert result.state == "failed" and not result.succeeded
    (bad,) = result.tasks
    assert (bad.label, bad.state, bad.tries) == ("bad", "failed", 1)
    assert "KeyError: 'missing'" in (bad.error or "")


def test_the_task_sees_the_logical_date_and_run_conf() -> None:
    seen: dict[str, Any] = {}

    def look(ds: str, params: dict[str, Any], dag_run: Any) -> None:
        seen.update(ds=ds, size=params["size"], conf=dag_run.conf)

    dag = DAG("test_context", start_date=datetime(2026, 1, 1),
              params={"size": Param(1, type="integer")})
    PythonOperator(task_id="look", python_callable=look, dag=dag)
    assert dag.test("2026-02-03T06:00:00+00:00", conf={"size": 4}).succeeded
    assert seen == {"ds": "2026-02-03", "size": 4, "conf": {"size": 4}}


def test_bad_conf_is_refused_before_running() -> None:
    dag = DAG("test_bad_conf", start_date=datetime(2026, 1, 1),
              params={"size": Param(1, type="integer")})
    ran: list[int] = []
    PythonOperator(task_id="t", python_callable=lambda: ran.append(1), dag=dag)
    with pytest.raises(ValueError, match="size"):
        dag.test("2026-01-01", conf={"size": "big"})
    assert ran == []


def test_a_run_that_cannot_progress_ends_failed_instead_of_hanging() -> None:
    reasons: list[str] = []
    dag = DAG("test_stuck", start_date=datetime(2026, 1, 1),
              on_failure_callback=lambda context: reasons.append(context["reason"]))
    # More slots than any pool has: it can never be queued.
    EmptyOperator(task_id="greedy", pool_slots=10_000, dag=dag) >> EmptyOperator(task_id="after")
    result = dag.test("2026-01-01")
    assert result.state == "failed"
    assert result.task_states == {"greedy": "upstream_failed", "after": "upstream_failed"}
    assert "could not make progress" in (result.tasks[0].error or "")
    assert reasons == ["deadlock"]


def test_every_run_is_independent() -> None:
    counter: list[int] = []
    dag = DAG("test_twice", start_date=datetime(2026, 1, 1))
    PythonOperator(task_id="count", python_callable=lambda: counter.append(1) or len(counter),
                   dag=dag)
    first = dag.test("2026-01-01")
    second = dag.test("2026-01-01")  # same logical date again: a fresh store each time
    assert first.xcom_pull("count") == 1
    assert second.xcom_pull("count") == 2


def test_xcom_pull_of_a_missing_value_is_none() -> None:
    dag = DAG("test_missing_xcom", start_date=datetime(2026, 1, 1))
    EmptyOperator(task_id="quiet", dag=dag)
    result = dag.test("2026-01-01")
    assert result.xcom_pull("quiet") is None
    assert result.xcom_pull("quiet", map_index=0) is None
    assert result.xcom_pull("not_a_task") is None


@pytest.mark.parametrize(("given", "expected"), [
    ("2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
    ("2026-01-01T06:30:00", datetime(2026, 1, 1, 6, 30, tzinfo=UTC)),
    ("2026-01-01T06:30:00+02:00", datetime(2026, 1, 1, 4, 30, tzinfo=UTC)),
    (datetime(2026, 5, 6), datetime(2026, 5, 6, tzinfo=UTC)),
])
def test_logical_dates_are_read_as_utc(given: Any, expected: datetime) -> None:
    assert parse_logical_date(given) == expected


def test_a_bad_logical_date_names_the_value() -> None:
    with pytest.raises(InvalidInputError, match="bad logical date 'yesterday'"):
        parse_logical_date("yesterday")


def test_no_logical_date_means_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    moment = parse_logical_date(None)
    assert before - timedelta(seconds=1) <= moment <= datetime.now(UTC)
