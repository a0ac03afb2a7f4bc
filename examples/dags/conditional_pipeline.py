"""conditional_processing_pipeline: pick one of three processing paths by data volume.

Ported from the orchestration guide. The only changes from the Airflow original are the
imports and the record count: the original drew it at random, which makes runs impossible
to reproduce, so here it comes from the ``record_count`` param (default 5000, the medium
path) and a run can override it with ``--conf '{"record_count": 500}'``.
"""

import logging
from datetime import datetime, timedelta

from millstream import DAG, Param, TriggerRule
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import BranchPythonOperator, PythonOperator

log = logging.getLogger(__name__)

# Volume thresholds of the three strategies; below SMALL_LIMIT fits in memory at once.
SMALL_LIMIT = 1_000
LARGE_LIMIT = 50_000
CHUNK_SIZE = 5_000

default_args = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
}

with DAG(
    dag_id="conditional_processing_pipeline",
    default_args=default_args,
    description="Pipeline with conditional execution paths",
    schedule_interval="0 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["conditional", "etl"],
    params={
        "record_count": Param(
            5000, type="integer", minimum=0,
            description="How many records the source holds for this run",
        ),
    },
) as dag:
    start = EmptyOperator(task_id="start")

    def assess_data_volume(**context):
        """Publish the run's record count for the branch and the processing tasks."""
        # A real pipeline would count rows at the source; the param stands in for that.
        record_count = int(context["params"]["record_count"])
        context["ti"].xcom_push(key="record_count", value=record_count)
        return {"record_count": record_count}

    assess = PythonOperator(
        task_id="assess_data_volume",
        python_callable=assess_data_volume,
    )

    def choose_processing_path(**context):
        """Name the one processing task that suits the volume; the other two get skipped."""
        record_count = context["ti"].xcom_pull(task_ids="assess_data_volume", key="record_count")
        if record_count < SMALL_LIMIT:
            return "process_small_batch"
        elif record_count < LARGE_LIMIT:
            return "process_medium_batch"
        else:
            return "process_large_batch"

    branch = BranchPythonOperator(
        task_id="choose_processing_path",
        python_callable=choose_processing_path,
    )

    def process_small(**context):
        record_count = context["ti"].xcom_pull(task_ids="assess_data_volume", key="record_count")
        log.info("small batch: handling %s records in one pass", record_count)
        return {"strategy": "small", "records": record_count}

    process_small_batch = PythonOperator(
        task_id="process_small_batch",
        python_callable=process_small,
    )

    def process_medium(**context):
        record_count = context["ti"].xcom_pull(task_ids="assess_data_volume", key="record_count")
        chunks = (record_count // CHUNK_SIZE) + 1
        log.info("medium batch: handling %s records in %s chunks", record_count, chunks)
        return {"strategy": "medium", "records": record_count, "chunks": chunks}

    process_medium_batch = PythonOperator(
        task_id="process_medium_batch",
        python_callable=process_medium,
    )

    def process_large(**context):
        record_count = context["ti"].xcom_pull(task_ids="assess_data_volume", key="record_count")
        # This is where a distributed job (Spark, a warehouse query ...) would be started.
        log.info("large batch: handing %s records to a distributed job", record_count)
        return {"strategy": "large", "records": record_count, "distributed": True}

    process_large_batch = PythonOperator(
        task_id="process_large_batch",
        python_callable=process_large,
    )

    # Two of the three branches are always skipped, so the default all_success rule would
    # skip the join too; this rule runs it once the chosen branch has succeeded.
    join = EmptyOperator(
        task_id="join",
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )

    def finalize(**context):
        log.info("all processing done for run %s", context["run_id"])
        return {"status": "completed"}

    finalize_task = PythonOperator(
        task_id="finalize",
        python_callable=finalize,
    )

    start >> assess >> branch
    branch >> [process_small_batch, process_medium_batch, process_large_batch]
    [process_small_batch, process_medium_batch, process_large_batch] >> join
    join >> finalize_task
