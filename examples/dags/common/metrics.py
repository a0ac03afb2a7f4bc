"""PipelineMetrics: counters, gauges and timings of a pipeline, exported, logged and kept.

Each metric goes to millstream's metrics (:mod:`millstream.metrics`): Prometheus, with the
try's DAG, task and run type as labels besides the tags, and StatsD when it is configured.
A timing is a histogram in seconds (``pipeline.extract.duration`` is exported as
``millstream_pipeline_extract_duration_seconds``). Each is also one log line
(``METRIC [counter] name=value tags={...}``) and, when the metrics object has a database,
one row of the ``pipeline_metrics`` table there, where a test can query it with the run id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from millstream import metrics

if TYPE_CHECKING:
    from common.db import Database

log = logging.getLogger(__name__)

METRICS_TABLE = "pipeline_metrics"


def metrics_table_ddl(timestamp_type: str) -> str:
    return f"""
        CREATE TABLE IF NOT EXISTS {METRICS_TABLE} (
            recorded_at {timestamp_type} NOT NULL,
            run_id TEXT,
            metric_type TEXT NOT NULL,
            name TEXT NOT NULL,
            value DOUBLE PRECISION NOT NULL,
            tags TEXT NOT NULL
        )
    """


class PipelineMetrics:
    """Emits pipeline metrics; ``database`` (a callable giving a Database) keeps them too."""

    def __init__(self, database: Callable[[], Database] | None = None) -> None:
        self._database = database
        self.run_id: str | None = None

    def for_run(self, run_id: str) -> PipelineMetrics:
        """The same metrics, with every row labelled with ``run_id``."""
        bound = PipelineMetrics(self._database)
        bound.run_id = run_id
        return bound

    def emit_counter(self, metric_name: str, value: float,
                     tags: Mapping[str, Any] | None = None) -> None:
        """A count of things that happened (records read, errors)."""
        metrics.counter(metric_name, value, **_labels(tags))
        self._emit("counter", metric_name, value, f"{metric_name}={value}", tags)

    def emit_gauge(self, metric_name: str, value: float,
                   tags: Mapping[str, Any] | None = None) -> None:
        """A level measured now (data freshness, a quality score)."""
        metrics.gauge(metric_name, value, **_labels(tags))
        self._emit("gauge", metric_name, value, f"{metric_name}={value}", tags)

    def emit_timing(self, metric_name: str, duration_ms: float,
                    tags: Mapping[str, Any] | None = None) -> None:
        """How long something took, in milliseconds (exported in seconds)."""
        metrics.histogram(f"{metric_name}_seconds", duration_ms / 1000, **_labels(tags))
        self._emit("timing", metric_name, duration_ms, f"{metric_name}={duration_ms}ms", tags)

    def _emit(self, kind: str, name: str, value: float, shown: str,
              tags: Mapping[str, Any] | None) -> None:
        labels = {str(k): str(v) for k, v in (tags or {}).items()}
        log.info("METRIC [%s] %s tags=%s", kind, shown, labels)
        if self._database is None:
            return
        database = self._database()
        with database.session() as session:
            session.execute(metrics_table_ddl(database.timestamp_type))
            session.execute(
                f"INSERT INTO {METRICS_TABLE} (recorded_at, run_id, metric_type, name, value, tags)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (datetime.now(UTC), self.run_id, kind, name, float(value),
                 json.dumps(labels, sort_keys=True)),
            )


def _labels(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (tags or {}).items()}
