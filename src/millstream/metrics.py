"""Metrics for task code: counters, gauges and histograms with the try's DAG, task and run.

::

    from millstream.metrics import counter, gauge, histogram

    counter("records_processed", 400, source="sales_db")
    gauge("data_freshness_minutes", 12.5)
    histogram("extract_duration_seconds", 0.84)

Each call reaches Prometheus (as ``millstream_records_processed_total``,
``millstream_data_freshness_minutes`` ..., on the worker's endpoint and the web
server's ``/metrics``) and StatsD when ``[metrics] statsd_host`` is set. Every series is
labelled with the try's ``dag``, ``task`` and ``run_type``, plus the labels given; keep one
set of label names per metric, and never a label of unbounded values (a run id, a user id):
each value makes a series of its own. Names may hold dots (``pipeline.extract.records``),
exported as underscores. A bad name, label or value raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any

from millstream.observability.user_metrics import record

__all__ = ["counter", "gauge", "histogram"]


def counter(name: str, value: float = 1, **labels: Any) -> None:
    """Add ``value`` (>= 0) to the counter ``name``: things that happened (records, errors)."""
    record("counter", name, value, labels)


def gauge(name: str, value: float, **labels: Any) -> None:
    """Set the gauge ``name`` to ``value``: a level measured now (freshness, a score)."""
    record("gauge", name, value, labels)


def histogram(name: str, value: float, **labels: Any) -> None:
    """Observe ``value`` in the histogram ``name`` (a duration in seconds, a size)."""
    record("histogram", name, value, labels)
