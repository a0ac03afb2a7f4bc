"""pipeline_with_observability: a pipeline that reports counters, gauges and timings as it runs.

Ported from the orchestration guide. Every two hours it measures the orders of its data
interval in the sales source (how many, how fresh, how many valid) and emits them as
metrics, with each step's duration and a summary of the whole run.

Metrics go to millstream's metrics (Prometheus and StatsD, with the try's DAG, task and
run type; ``deploy/grafana/millstream.json`` charts them), are one log line each, as in
the original, and also rows of the ``pipeline_metrics`` table in the warehouse
connection, where a test can query them; see ``common/metrics.py``.

Changes from the Airflow original, each for a reason:

- The original drew its record count, freshness and valid share at random. Here they
  are measured on the sales source of ``etl_sales_pipeline`` (the ``sales_db``
  connection, or its generated SQLite stand-in): records are the interval's orders,
  freshness the minutes from the newest of them to the end of the interval, and valid
  orders those the ETL would keep.
- ``datetime.utcnow()`` (naive, deprecated) is ``datetime.now(UTC)``.
"""

import logging
import time
from datetime import UTC, datetime, timedelta

from common.config import PipelineConfig
from common.db import Database
from common.metrics import PipelineMetrics
from common.sales_data import OrderGenerator, ensure_demo_orders

from millstream import DAG
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator

logger = logging.getLogger(__name__)

SOURCE_CONN_ID = PipelineConfig.get_connection_config("source")
WAREHOUSE_CONN_ID = PipelineConfig.get_connection_config("warehouse")

metrics = PipelineMetrics(lambda: Database.for_connection(WAREHOUSE_CONN_ID))


def open_source(data_interval_start: datetime, data_interval_end: datetime) -> Database:
    """The sales source; its SQLite stand-in is filled for the interval first."""
    source = Database.for_connection(SOURCE_CONN_ID)
    if source.is_demo:
        settings = PipelineConfig.DEMO_DATA
        ensure_demo_orders(source, data_interval_start, data_interval_end,
                           OrderGenerator.from_settings(settings), settings["orders_per_day"])
    return source


default_args = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
}

with DAG(
    dag_id="pipeline_with_observability",
    default_args=default_args,
    description="Pipeline with comprehensive metrics and observability",
    schedule_interval="0 */2 * * *",  # every 2 hours
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["metrics", "observability", "production"],
) as dag:

    start = EmptyOperator(task_id="start")

    def extract_with_metrics(**context):
        """Measure the interval's orders: record count, extraction time, data freshness."""
        dag_id = context["dag"].dag_id
        task_id = context["task"].task_id
        run_metrics = metrics.for_run(context["run_id"])
        data_interval_start = context["data_interval_start"]
        data_interval_end = context["data_interval_end"]

        start_time = time.time()
        try:
            source = open_source(data_interval_start, data_interval_end)
            record_count, newest = source.first(
                f"""
                SELECT COUNT(*), MAX({source.as_utc_text("order_date")})
                FROM sales_orders
                WHERE order_date >= %s AND order_date < %s
                """,
                (data_interval_start, data_interval_end),
            )
            duration_ms = (time.time() - start_time) * 1000

            run_metrics.emit_counter("pipeline.extract.records", record_count,
                                     tags={"dag": dag_id, "task": task_id})
            run_metrics.emit_timing("pipeline.extract.duration", duration_ms,
                                    tags={"dag": dag_id, "task": task_id})

            # Data freshness: minutes from the newest record to the end of the interval
            data_freshness_minutes = None
            if newest is not None:
                newest_at = datetime.strptime(newest, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                data_freshness_minutes = (data_interval_end - newest_at).total_seconds() / 60
                run_metrics.emit_gauge("pipeline.data.freshness_minutes", data_freshness_minutes,
                                       tags={"dag": dag_id, "source": SOURCE_CONN_ID})

            return {
                "record_count": record_count,
                "duration_ms": duration_ms,
                "data_freshness_minutes": data_freshness_minutes,
            }

        except Exception as e:
            run_metrics.emit_counter(
                "pipeline.extract.errors", 1,
                tags={"dag": dag_id, "task": task_id, "error_type": type(e).__name__},
            )
            raise

    extract = PythonOperator(
        task_id="extract_with_metrics",
        python_callable=extract_with_metrics,
    )

    def transform_with_metrics(**context):
        """Count the valid and invalid orders of the interval and score the data's quality."""
        dag_id = context["dag"].dag_id
        run_metrics = metrics.for_run(context["run_id"])
        ti = context["ti"]

        start_time = time.time()
        extract_result = ti.xcom_pull(task_ids="extract_with_metrics")
        input_records = extract_result["record_count"]

        # Valid orders are those the sales ETL keeps: positive quantity and price, both keys.
        source = Database.for_connection(SOURCE_CONN_ID)
        (valid_records,) = source.first(
            """
            SELECT COUNT(*) FROM sales_orders
            WHERE order_date >= %s AND order_date < %s
              AND quantity > 0 AND unit_price > 0
              AND customer_id IS NOT NULL AND product_id IS NOT NULL
            """,
            (context["data_interval_start"], context["data_interval_end"]),
        )
        invalid_records = input_records - valid_records
        duration_ms = (time.time() - start_time) * 1000

        run_metrics.emit_counter("pipeline.transform.input_records", input_records,
                                 tags={"dag": dag_id})
        run_metrics.emit_counter("pipeline.transform.valid_records", valid_records,
                                 tags={"dag": dag_id})
        run_metrics.emit_counter("pipeline.transform.invalid_records", invalid_records,
                                 tags={"dag": dag_id})
        run_metrics.emit_timing("pipeline.transform.duration", duration_ms, tags={"dag": dag_id})

        quality_score = (valid_records / input_records) * 100 if input_records > 0 else 0
        run_metrics.emit_gauge("pipeline.data.quality_score", quality_score, tags={"dag": dag_id})

        return {
            "valid_records": valid_records,
            "invalid_records": invalid_records,
            "quality_score": quality_score,
        }

    transform = PythonOperator(
        task_id="transform_with_metrics",
        python_callable=transform_with_metrics,
    )

    def emit_pipeline_summary(**context):
        """Emit the run's total duration so far and its completion, for SLA and trend tracking."""
        dag_run = context["dag_run"]
        dag_id = context["dag"].dag_id
        run_metrics = metrics.for_run(context["run_id"])

        pipeline_duration = None
        if dag_run.start_date:
            pipeline_duration = (datetime.now(UTC) - dag_run.start_date).total_seconds() * 1000
            run_metrics.emit_timing("pipeline.total_duration", pipeline_duration,
                                    tags={"dag": dag_id})

        run_metrics.emit_counter("pipeline.runs.completed", 1,
                                 tags={"dag": dag_id, "status": "success"})
        logger.info("Pipeline %s completed successfully", dag_id)
        return {"total_duration_ms": pipeline_duration}

    summary = PythonOperator(
        task_id="emit_pipeline_summary",
        python_callable=emit_pipeline_summary,
    )

    end = EmptyOperator(task_id="end")

    start >> extract >> transform >> summary >> end
