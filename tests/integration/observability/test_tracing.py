"""OpenTelemetry: a run's span, its tries' spans under it, and task code's spans under
those, received by an in-memory exporter."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from millstream import DAG
from millstream.observability import emit, tracing
from millstream.operators.python import PythonOperator
from millstream.store.records import TaskInstanceKey

_exporter = InMemorySpanExporter()
_tracing: tracing.Tracing | None = None


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans go to one in-memory exporter (OpenTelemetry's global provider is set once)."""
    global _tracing
    if _tracing is None:
        _tracing = tracing.install(_exporter, batch=False)
    emit.CONFIG.tracing = _tracing
    _exporter.clear()
    yield _exporter
    _exporter.clear()


def _work(ti: object) -> str:
    with trace.get_tracer("user.code").start_as_current_span("user work") as span:
        span.set_attribute("rows", 3)
    return os.environ["TRACEPARENT"]


def _flaky(ti: object) -> None:
    if getattr(ti, "try_number", 0) == 1:
        raise RuntimeError("first try fails")


def test_run_try_and_user_spans_nest(spans: InMemorySpanExporter) -> None:
    with DAG("traced", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:
        work = PythonOperator(task_id="work", python_callable=_work)
        flaky = PythonOperator(task_id="flaky", python_callable=_flaky, retries=1,
                               retry_delay=timedelta(0))
        work >> flaky

    result = dag.test(logical_date="2026-02-01T00:00:00+00:00")

    assert result.state == "success"
    finished = spans.get_finished_spans()
    by_name: dict[str, list] = {}
    for span in finished:
        by_name.setdefault(span.name, []).append(span)
    (run,) = by_name["dag_run traced"]
    (work_try,) = by_name["task_try work"]
    flaky_tries = by_name["task_try flaky"]
    (user,) = by_name["user work"]
    run_id = run.attributes["millstream.run_id"]
    assert run.parent is None
    assert run.context.trace_id == tracing.trace_id("traced", run_id)
    assert run.attributes["millstream.state"] == "success"
    for span in (work_try, *flaky_tries):
        assert span.context.trace_id == run.context.trace_id
        assert span.parent.span_id == run.context.span_id
        assert run.start_time <= span.start_time <= span.end_time <= run.end_time
    assert sorted(s.attributes["millstream.try_number"] for s in flaky_tries) == [1, 2]
    failed = next(s for s in flaky_tries if s.attributes["millstream.try_number"] == 1)
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert failed.attributes["millstream.state"] == "up_for_retry"
    # The try's process knew its span: task code's spans nest under it, and the
    # environment carries it for subprocesses.
    assert user.parent.span_id == work_try.context.span_id
    assert user.context.trace_id == run.context.trace_id
    key = TaskInstanceKey("traced", run_id, "work", -1)
    assert result.xcom_pull("work") == tracing.traceparent(key, 1)
    assert "TRACEPARENT" not in os.environ  # put back after the try


def test_no_spans_without_tracing() -> None:
    with DAG("untraced", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:
        PythonOperator(task_id="only", python_callable=lambda: None)
    before = len(_exporter.get_finished_spans())

    assert dag.test().state == "success"

    assert emit.CONFIG.tracing is None
    assert len(_exporter.get_finished_spans()) == before


def test_ids_are_stable_and_distinct() -> None:
    key = TaskInstanceKey("d", "r", "t", -1)
    assert tracing.traceparent(key, 1) == tracing.traceparent(key, 1)
    assert tracing.traceparent(key, 1) != tracing.traceparent(key, 2)
    assert tracing.try_span_id(key, 1) != tracing.try_span_id(
        TaskInstanceKey("d", "r", "t", 0), 1)
    header = tracing.traceparent(key, 3)
    assert header.startswith("00-") and header.endswith("-01") and len(header) == 55


def test_a_trigger_wait_is_a_span_under_its_try(spans: InMemorySpanExporter) -> None:
    from millstream.observability import families
    from millstream.sensors.time import DateTimeSensorAsync

    fired_before = families.GROUPS.triggerer.get_sample_value(
        "millstream_triggers_fired_total", {"outcome": "fired"}) or 0.0
    with DAG("deferring", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:
        DateTimeSensorAsync(task_id="wait", target_time=datetime.now(UTC) + timedelta(days=2))

    # The sensor defers; with fast_retries dag.test()'s clock skips to the trigger's moment.
    result = dag.test(logical_date="2026-01-01T00:00:00+00:00", fast_retries=True)

    assert result.state == "success"
    by_name = {s.name: s for s in spans.get_finished_spans()}
    wait, attempt = by_name["trigger_wait wait"], by_name["task_try wait"]
    assert wait.parent.span_id == attempt.context.span_id
    assert wait.context.trace_id == attempt.context.trace_id
    assert wait.attributes["millstream.outcome"] == "fired"
    assert wait.start_time <= wait.end_time
    assert families.GROUPS.triggerer.get_sample_value(
        "millstream_triggers_fired_total", {"outcome": "fired"}) == fired_before + 1
