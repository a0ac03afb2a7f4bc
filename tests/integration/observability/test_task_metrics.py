"""``millstream.metrics`` in task code: Prometheus families with the try's labels, and
clear errors for what cannot be a metric."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from millstream import DAG
from millstream.metrics import counter, gauge, histogram
from millstream.observability import families
from millstream.operators.python import PythonOperator

START = datetime(2026, 1, 1, tzinfo=UTC)


def _value(name: str, **labels: str) -> float | None:
    return families.GROUPS.worker.get_sample_value(name, labels)


def _run(function: Any, dag_id: str) -> Any:
    with DAG(dag_id, schedule=None, start_date=START) as dag:
        PythonOperator(task_id="report", python_callable=function)
    return dag.test()


def test_figures_reach_prometheus_with_the_try_labels() -> None:
    labels = {"dag": "tm_ok", "task": "report", "run_type": "manual"}
    before = _value("millstream_tm_records_total", **labels, source="db") or 0.0

    def report() -> None:
        counter("tm.records", 10, source="db")
        counter("tm.records", 5, source="db")
        gauge("tm.freshness_minutes", 3.5)
        histogram("tm.batch_seconds", 0.5)
        histogram("tm.batch_seconds", 1.5)

    assert _run(report, "tm_ok").state == "success"

    assert _value("millstream_tm_records_total", **labels, source="db") == before + 15
    assert _value("millstream_tm_freshness_minutes", **labels) == 3.5
    assert _value("millstream_tm_batch_seconds_count", **labels) == 2
    assert _value("millstream_tm_batch_seconds_sum", **labels) == 2.0


@pytest.mark.parametrize(("call", "message"), [
    (lambda: counter("9lives", 1), "not starting with a digit"),
    (lambda: counter("has space", 1), "use letters, digits"),
    (lambda: counter("tm_neg", -1), "can only go up"),
    (lambda: gauge("tm_nan", "many"), "must be a number"),
    (lambda: counter("tm_label", 1, **{"bad-label": "x"}), "bad label name 'bad-label'"),
    (lambda: counter("task_duration_seconds", 1), "one of millstream's own"),
])
def test_bad_figures_fail_the_task_with_a_clear_error(call: Any, message: str) -> None:
    def report() -> None:
        call()

    result = _run(report, "tm_bad")

    assert result.state == "failed"
    assert message in str(result.tasks[0].error)


def test_one_kind_and_one_set_of_labels_per_name() -> None:
    def report() -> None:
        counter("tm_shape", 1, table="a")
        counter("tm_shape", 1, schema="b")

    result = _run(report, "tm_shape")

    assert result.state == "failed"
    assert "keep one kind and one set of labels per name" in str(result.tasks[0].error)
