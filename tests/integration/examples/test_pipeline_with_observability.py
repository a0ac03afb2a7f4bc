"""pipeline_with_observability: the metrics it emits are the ones measured on the source."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from millstream.observability import families
from millstream.store.memory import MemoryStore
from tests.integration.examples.conftest import SalesDatabases, load_example

DAG_ID = "pipeline_with_observability"
LOGICAL_DATE = "2026-03-10T06:00:00+00:00"
START = datetime(2026, 3, 10, 6, tzinfo=UTC)  # every 2 hours: [06:00, 08:00)
END = START + timedelta(hours=2)
RUN_ID = "manual__2026-03-10T06:00:00+00:00"


def test_metrics_are_measured_on_the_source_and_kept_in_the_warehouse(
    sales_databases: SalesDatabases, caplog: pytest.LogCaptureFixture,
) -> None:
    sales_databases.generate_orders(START, END, 400, invalid_share=0.05, null_key_share=0.02)
    sales_databases.generate_orders(END, END + timedelta(hours=1), 30, first_order_id=1000)
    newest = sales_databases.source.one(
        "SELECT MAX(order_date) FROM sales_orders WHERE order_date < %s", (END,))
    valid = sales_databases.source.one(
        "SELECT COUNT(*) FROM sales_orders WHERE order_date < %s AND quantity > 0 "
        "AND unit_price > 0 AND customer_id IS NOT NULL AND product_id IS NOT NULL", (END,))
    assert 0 < valid < 400
    caplog.set_level(logging.INFO)

    result = load_example(DAG_ID).test(logical_date=LOGICAL_DATE)

    assert result.state == "success", result.tasks
    freshness = (END - newest).total_seconds() / 60
    extracted = result.xcom_pull("extract_with_metrics")
    assert (extracted["record_count"], extracted["data_freshness_minutes"]) == (400, freshness)
    assert result.xcom_pull("transform_with_metrics") == {
        "valid_records": valid, "invalid_records": 400 - valid,
        "quality_score": valid / 400 * 100,
    }

    rows = sales_databases.warehouse.all(
        "SELECT metric_type, name, value, tags, run_id FROM pipeline_metrics "
        "ORDER BY recorded_at, name")
    assert {r[4] for r in rows} == {RUN_ID}
    by_name = {name: (kind, value, json.loads(tags)) for kind, name, value, tags, _ in rows}
    assert set(by_name) == {
        "pipeline.extract.records", "pipeline.extract.duration",
        "pipeline.data.freshness_minutes", "pipeline.transform.input_records",
        "pipeline.transform.valid_records", "pipeline.transform.invalid_records",
        "pipeline.transform.duration", "pipeline.data.quality_score",
        "pipeline.total_duration", "pipeline.runs.completed",
    }
    assert by_name["pipeline.extract.records"] == (
        "counter", 400, {"dag": DAG_ID, "task": "extract_with_metrics"})
    assert by_name["pipeline.data.freshness_minutes"] == (
        "gauge", freshness, {"dag": DAG_ID, "source": "sales_db"})
    assert by_name["pipeline.transform.valid_records"][:2] == ("counter", valid)
    assert by_name["pipeline.transform.invalid_records"][:2] == ("counter", 400 - valid)
    assert by_name["pipeline.data.quality_score"][:2] == ("gauge", valid / 400 * 100)
    assert by_name["pipeline.runs.completed"] == (
        "counter", 1, {"dag": DAG_ID, "status": "success"})
    for timing in ("pipeline.extract.duration", "pipeline.transform.duration",
                   "pipeline.total_duration"):
        assert by_name[timing][0] == "timing" and by_name[timing][1] >= 0
    # They reach Prometheus with the try's labels, and the timings are in seconds.
    worker = families.GROUPS.worker
    labels = {"dag": DAG_ID, "task": "extract_with_metrics", "run_type": "manual"}
    assert worker.get_sample_value("millstream_pipeline_extract_records_total",
                                   labels) is not None
    assert worker.get_sample_value("millstream_pipeline_data_freshness_minutes",
                                   {**labels, "source": "sales_db"}) == freshness
    assert worker.get_sample_value(
        "millstream_pipeline_data_quality_score",
        {**labels, "task": "transform_with_metrics"}) == valid / 400 * 100
    assert worker.get_sample_value(
        "millstream_pipeline_total_duration_seconds_count",
        {**labels, "task": "emit_pipeline_summary"}) is not None
    # Each metric is also a log line, as in the article.
    assert (f"METRIC [counter] pipeline.extract.records=400 tags="
            f"{{'dag': '{DAG_ID}', 'task': 'extract_with_metrics'}}") in caplog.text


def test_a_failing_extract_counts_its_errors(sales_databases: SalesDatabases) -> None:
    # The source has no sales_orders table: every try of the extract fails.
    result = load_example(DAG_ID).test(logical_date=LOGICAL_DATE, fast_retries=True)

    assert result.state == "failed"
    assert result.task_states["extract_with_metrics"] == "failed"
    errors = sales_databases.warehouse.all(
        "SELECT value, tags FROM pipeline_metrics WHERE name = 'pipeline.extract.errors'")
    assert [(value, json.loads(tags)["error_type"]) for value, tags in errors] == \
        [(1.0, "UndefinedTable")] * 3  # the first try and its 2 retries


def test_without_connections_it_measures_the_generated_sqlite_source(
    home: Path, memory_store: MemoryStore,
) -> None:
    result = load_example(DAG_ID).test(logical_date=LOGICAL_DATE)

    assert result.state == "success", result.tasks
    with sqlite3.connect(home / "example_data" / "sales_db.sqlite") as source:
        (count,) = source.execute(
            "SELECT COUNT(*) FROM sales_orders WHERE order_date >= '2026-03-10 06:00:00' "
            "AND order_date < '2026-03-10 08:00:00'").fetchone()
    assert result.xcom_pull("extract_with_metrics")["record_count"] == count > 0
    with sqlite3.connect(home / "example_data" / "warehouse_db.sqlite") as warehouse:
        (records,) = warehouse.execute(
            "SELECT value FROM pipeline_metrics WHERE name = 'pipeline.extract.records'"
        ).fetchone()
    assert records == count
