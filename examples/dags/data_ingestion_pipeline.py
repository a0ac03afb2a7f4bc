"""data_ingestion_pipeline: the upstream DAG that event_driven_etl waits for.

The orchestration guide's event-driven pipeline waits for the task ``complete`` of a DAG
named ``data_ingestion_pipeline`` in the run of the same hour, but the guide never shows
that DAG. This is a small stand-in with the same schedule (hourly), so that its runs and
event_driven_etl's runs share logical dates: it takes in the hour's source records and
ends with ``complete``, the task downstream pipelines wait for.

The ``simulate_failure`` param makes the ingestion fail (without retries), to see how
event_driven_etl reacts to a failed upstream: its ExternalTaskSensor fails at once,
naming this DAG, the task and the run::

    millstream dags trigger data_ingestion_pipeline --conf '{"simulate_failure": true}'
"""

import logging
from datetime import datetime, timedelta

from millstream import DAG, Param
from millstream.exceptions import TaskFailedNoRetry
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator

logger = logging.getLogger(__name__)

default_args = {
    "owner": "data-engineering",
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
}


def ingest_source_data(data_interval_start, data_interval_end, params):
    """Take in the records of the run's hour (a stand-in: one per minute of the interval)."""
    if params["simulate_failure"]:
        # An outage that a retry five minutes later would not fix in a demo: fail at once.
        raise TaskFailedNoRetry("the source system is unavailable (simulate_failure is set)")
    minutes = int((data_interval_end - data_interval_start).total_seconds() // 60)
    logger.info("Ingested %d records for %s to %s", minutes, data_interval_start,
                data_interval_end)
    return {
        "records": minutes,
        "interval_start": data_interval_start.isoformat(),
        "interval_end": data_interval_end.isoformat(),
    }


with DAG(
    dag_id="data_ingestion_pipeline",
    default_args=default_args,
    description="Hourly ingestion that event_driven_etl waits for",
    schedule_interval="0 * * * *",  # Hourly, like event_driven_etl
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["event-driven", "ingestion"],
    params={
        "simulate_failure": Param(
            False, type="boolean",
            description="Make the ingestion fail, to see downstream sensors react",
        ),
    },
) as dag:

    start = EmptyOperator(task_id="start")

    ingest = PythonOperator(
        task_id="ingest_source_data",
        python_callable=ingest_source_data,
    )

    # The task downstream DAGs wait for: it succeeds only once everything before it did.
    complete = EmptyOperator(task_id="complete")

    start >> ingest >> complete
