"""OpenTelemetry traces: a span per DAG run, a child span per task try and per trigger wait.

Span and trace ids are derived from what names the run and the try (a hash of the DAG id,
run id, task id, map index and try number), so the try's process knows its span's id
before the scheduler records it: it is given as the W3C ``TRACEPARENT`` (environment and
current context), and spans that task code starts nest under its try. The scheduler
records each span when it learns of the end (with the start and end the try reported).

Needs the extra ``otel`` (``opentelemetry-sdk``; the OTLP exporter for ``[tracing]
otlp_endpoint``). Without an endpoint no span is recorded; tests install an exporter of
their own with :func:`install`.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from millstream.config import Settings

log = logging.getLogger("millstream.observability")

TRACEPARENT = "TRACEPARENT"
_next_ids: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "millstream_span_ids", default=None)


def _hash(*parts: object, size: int) -> int:
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:size], "big") or 1  # zero is OpenTelemetry's "invalid"


def trace_id(dag_id: str, run_id: str) -> int:
    """The trace of one DAG run."""
    return _hash("trace", dag_id, run_id, size=16)


def run_span_id(dag_id: str, run_id: str) -> int:
    """The span of one DAG run (the root of its trace)."""
    return _hash("run", dag_id, run_id, size=8)


def try_span_id(key: Any, try_number: int) -> int:
    """The span of one try of one task instance (``key``: its TaskInstanceKey)."""
    return _hash("try", key.dag_id, key.run_id, key.task_id, key.map_index, try_number,
                 size=8)


def traceparent(key: Any, try_number: int) -> str:
    """The W3C traceparent header of a try's span."""
    return (f"00-{trace_id(key.dag_id, key.run_id):032x}-"
            f"{try_span_id(key, try_number):016x}-01")


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000_000)


class Tracing:
    """Records run, try and trigger-wait spans through one tracer provider."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("millstream")

    def _span(self, name: str, ids: tuple[int, int], parent: tuple[int, int] | None,
              start: datetime, end: datetime, attributes: dict[str, Any]) -> None:
        from opentelemetry import trace

        context = None
        if parent is not None:
            context = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
                parent[0], parent[1], is_remote=True,
                trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED))))
        token = _next_ids.set(ids)
        try:
            span = self.tracer.start_span(name, context=context, start_time=_ns(start),
                                          attributes=attributes)
        finally:
            _next_ids.reset(token)
        if attributes.get("millstream.state") in ("failed", "up_for_retry"):
            span.set_status(trace.Status(trace.StatusCode.ERROR,
                                         attributes.get("millstream.error")))
        span.end(end_time=_ns(end))

    def run_ended(self, run: Any) -> None:
        """The span of a finished DAG run."""
        start = run.start_date or run.queued_at or run.end_date
        self._span(
            f"dag_run {run.dag_id}", (trace_id(run.dag_id, run.run_id),
                                      run_span_id(run.dag_id, run.run_id)), None,
            start, run.end_date,
            {"millstream.dag_id": run.dag_id, "millstream.run_id": run.run_id,
             "millstream.run_type": run.run_type, "millstream.state": run.state.value,
             "millstream.logical_date": run.logical_date.isoformat()})

    def try_ended(self, event: Any) -> None:
        """The span of a try that ended (or gave its slot back: a deferral, a reschedule)."""
        key = event.key
        trace = trace_id(key.dag_id, key.run_id)
        attributes: dict[str, Any] = {
            "millstream.dag_id": key.dag_id, "millstream.run_id": key.run_id,
            "millstream.task_id": key.task_id, "millstream.map_index": key.map_index,
            "millstream.try_number": event.try_number, "millstream.state": event.state.value}
        if event.error:
            attributes["millstream.error"] = event.error[:1000]
        self._span(f"task_try {key.task_id}", (trace, try_span_id(key, event.try_number)),
                   (trace, run_span_id(key.dag_id, key.run_id)), event.start_date,
                   event.end_date, attributes)

    def trigger_wait_ended(self, ti: Any, outcome: str, start: datetime,
                           end: datetime) -> None:
        """The span of a deferred try's wait for its trigger, a child of the try's span."""
        trace = trace_id(ti.dag_id, ti.run_id)
        self._span(f"trigger_wait {ti.task_id}",
                   (trace, _hash("wait", ti.dag_id, ti.run_id, ti.task_id, ti.map_index,
                                 ti.try_number, start.isoformat(), size=8)),
                   (trace, try_span_id(ti.key, ti.try_number)), start, end,
                   {"millstream.dag_id": ti.dag_id, "millstream.run_id": ti.run_id,
                    "millstream.task_id": ti.task_id, "millstream.outcome": outcome})


def make_provider(exporter: SpanExporter, service_name: str = "millstream",
                  batch: bool = True) -> TracerProvider:
    """A tracer provider whose span ids are millstream's (see the module docstring)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class _Ids(RandomIdGenerator):
        """Ids given for the span being started, else random ones (users' spans)."""

        def generate_span_id(self) -> int:
            ids = _next_ids.get()
            return ids[1] if ids is not None else super().generate_span_id()

        def generate_trace_id(self) -> int:
            ids = _next_ids.get()
            return ids[0] if ids is not None else super().generate_trace_id()

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}),
                              id_generator=_Ids())
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch
                                else SimpleSpanProcessor(exporter))
    return provider


def tracing_from_settings(settings: Settings) -> Tracing | None:
    """Tracing to ``[tracing] otlp_endpoint``, or None when it is unset."""
    endpoint = settings.tracing.otlp_endpoint
    if not endpoint or not settings.metrics.enabled:
        return None
    return otlp_tracing(endpoint, settings.tracing.service_name)


def otlp_tracing(endpoint: str, service_name: str) -> Tracing | None:
    """Tracing exported over OTLP/HTTP to ``endpoint``; None without OpenTelemetry."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.error("[tracing] otlp_endpoint is set but OpenTelemetry is not installed: "
                  "pip install 'millstream[otel]'; no span is exported")
        return None
    return install(OTLPSpanExporter(endpoint=endpoint), service_name)


def install(exporter: SpanExporter, service_name: str = "millstream",
            batch: bool = True) -> Tracing:
    """Send millstream's spans, and those task code starts, to ``exporter`` from now on."""
    from opentelemetry import trace

    from millstream.observability.emit import CONFIG

    provider = make_provider(exporter, service_name, batch)
    # Task code's own spans (trace.get_tracer(...)) go to the same place.
    trace.set_tracer_provider(provider)
    tracing = Tracing(provider)
    CONFIG.tracing = tracing
    return tracing


# -- in the try's process ----------------------------------------------------------------------
def enter_try(key: Any, try_number: int) -> Any:
    """Make the try's span the parent of what runs in it; returns what :func:`leave_try`
    needs to undo that."""
    header = traceparent(key, try_number)
    previous = os.environ.get(TRACEPARENT)
    os.environ[TRACEPARENT] = header  # subprocesses (a bash task) inherit it
    token = None
    if "opentelemetry" in sys.modules:  # task code or millstream uses OpenTelemetry
        from opentelemetry import context, trace

        span_context = trace.SpanContext(
            trace_id(key.dag_id, key.run_id), try_span_id(key, try_number), is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED))
        token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(span_context)))
    return (previous, token)


def leave_try(state: Any) -> None:
    """Undo :func:`enter_try`, and send the spans task code ended."""
    from millstream.observability.emit import CONFIG

    previous, token = state
    if previous is None:
        os.environ.pop(TRACEPARENT, None)
    else:
        os.environ[TRACEPARENT] = previous
    if token is not None:
        from opentelemetry import context

        context.detach(token)
    if CONFIG.tracing is not None:
        CONFIG.tracing.provider.force_flush(5000)
