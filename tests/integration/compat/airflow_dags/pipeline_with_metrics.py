# From the orchestration guide (dags/pipeline_with_metrics.py), unedited.
# dags/pipeline_with_metrics.py
# This DAG demonstrates how to emit custom metrics for monitoring.
# Integrates with external monitoring systems for comprehensive observability.

from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.operators.empty import EmptyOperator
import logging
import time

logger = logging.getLogger(__name__)

# Metrics helper class for consistent metric emission
class PipelineMetrics:
    """
    Helper class for emitting pipeline metrics.
    Supports multiple backends (StatsD, Prometheus, custom).
    """

    @staticmethod
    def emit_counter(metric_name, value, tags=None):
        """Emit a counter metric."""
        tags = tags or {}
        logger.info(f"METRIC [counter] {metric_name}={value} tags={tags}")

        # In production, send to your metrics backend:
        # statsd_client.incr(metric_name, value, tags=tags)
        # prometheus_counter.labels(**tags).inc(value)

    @staticmethod
    def emit_gauge(metric_name, value, tags=None):
        """Emit a gauge metric."""
        tags = tags or {}
        logger.info(f"METRIC [gauge] {metric_name}={value} tags={tags}")

        # statsd_client.gauge(metric_name, value, tags=tags)
        # prometheus_gauge.labels(**tags).set(value)

    @staticmethod
    def emit_timing(metric_name, duration_ms, tags=None):
        """Emit a timing metric."""
        tags = tags or {}
        logger.info(f"METRIC [timing] {metric_name}={duration_ms}ms tags={tags}")

        # statsd_client.timing(metric_name, duration_ms, tags=tags)
        # prometheus_histogram.labels(**tags).observe(duration_ms / 1000)

metrics = PipelineMetrics()

default_args = {
    'owner': 'data-engineering',
    'retries': 2,
    'retry_delay': timedelta(minutes=5),
}

with DAG(
    dag_id='pipeline_with_observability',
    default_args=default_args,
    description='Pipeline with comprehensive metrics and observability',
    schedule_interval='0 */2 * * *',  # Every 2 hours
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=['metrics', 'observability', 'production'],
) as dag:

    start = EmptyOperator(task_id='start')

    def extract_with_metrics(**context):
        """
        Extract data and emit metrics for monitoring.
        Tracks extraction duration, record counts, and data freshness.
        """
        dag_id = context['dag'].dag_id
        task_id = context['task'].task_id

        start_time = time.time()

        try:
            # Simulate extraction
            import random
            record_count = random.randint(1000, 10000)

            # Calculate data freshness (time since last record)
            data_freshness_minutes = random.randint(5, 60)

            duration_ms = (time.time() - start_time) * 1000

            # Emit success metrics
            metrics.emit_counter(
                'pipeline.extract.records',
                record_count,
                tags={'dag': dag_id, 'task': task_id}
            )

            metrics.emit_timing(
                'pipeline.extract.duration',
                duration_ms,
                tags={'dag': dag_id, 'task': task_id}
            )

            metrics.emit_gauge(
                'pipeline.data.freshness_minutes',
                data_freshness_minutes,
                tags={'dag': dag_id, 'source': 'sales_db'}
            )

            return {
                'record_count': record_count,
                'duration_ms': duration_ms,
                'data_freshness_minutes': data_freshness_minutes,
            }

        except Exception as e:
            # Emit failure metric
            metrics.emit_counter(
                'pipeline.extract.errors',
                1,
                tags={'dag': dag_id, 'task': task_id, 'error_type': type(e).__name__}
            )
            raise

    extract = PythonOperator(
        task_id='extract_with_metrics',
        python_callable=extract_with_metrics,
    )

    def transform_with_metrics(**context):
        """
        Transform data with comprehensive metrics tracking.
        Monitors data quality and transformation performance.
        """
        dag_id = context['dag'].dag_id
        task_id = context['task'].task_id
        ti = context['ti']

        start_time = time.time()

        extract_result = ti.xcom_pull(task_ids='extract_with_metrics')
        input_records = extract_result['record_count']

        # Simulate transformation
        import random

        valid_records = int(input_records * random.uniform(0.95, 1.0))
        invalid_records = input_records - valid_records

        duration_ms = (time.time() - start_time) * 1000

        # Emit transformation metrics
        metrics.emit_counter(
            'pipeline.transform.input_records',
            input_records,
            tags={'dag': dag_id}
        )

        metrics.emit_counter(
            'pipeline.transform.valid_records',
            valid_records,
            tags={'dag': dag_id}
        )

        metrics.emit_counter(
            'pipeline.transform.invalid_records',
            invalid_records,
            tags={'dag': dag_id}
        )

        metrics.emit_timing(
            'pipeline.transform.duration',
            duration_ms,
            tags={'dag': dag_id}
        )

        # Calculate and emit data quality score
        quality_score = (valid_records / input_records) * 100 if input_records > 0 else 0
        metrics.emit_gauge(
            'pipeline.data.quality_score',
            quality_score,
            tags={'dag': dag_id}
        )

        return {
            'valid_records': valid_records,
            'invalid_records': invalid_records,
            'quality_score': quality_score,
        }

    transform = PythonOperator(
        task_id='transform_with_metrics',
        python_callable=transform_with_metrics,
    )

    def emit_pipeline_summary(**context):
        """
        Emit summary metrics for the entire pipeline run.
        Useful for SLA tracking and trend analysis.
        """
        dag_run = context['dag_run']
        dag_id = context['dag'].dag_id

        # Calculate total pipeline duration
        if dag_run.start_date:
            pipeline_duration = (datetime.utcnow() - dag_run.start_date).total_seconds() * 1000

            metrics.emit_timing(
                'pipeline.total_duration',
                pipeline_duration,
                tags={'dag': dag_id}
            )

        # Emit pipeline completion metric
        metrics.emit_counter(
            'pipeline.runs.completed',
            1,
            tags={'dag': dag_id, 'status': 'success'}
        )

        logger.info(f"Pipeline {dag_id} completed successfully")

    summary = PythonOperator(
        task_id='emit_pipeline_summary',
        python_callable=emit_pipeline_summary,
    )

    end = EmptyOperator(task_id='end')

    start >> extract >> transform >> summary >> end
