# From the orchestration guide (dags/conditional_pipeline.py), unedited.
# dags/conditional_pipeline.py
# This DAG demonstrates conditional branching based on runtime data evaluation.
# The pipeline chooses different processing paths based on data volume.

from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.python import PythonOperator, BranchPythonOperator
from airflow.operators.empty import EmptyOperator
from airflow.utils.trigger_rule import TriggerRule

default_args = {
    'owner': 'data-engineering',
    'retries': 2,
    'retry_delay': timedelta(minutes=5),
}

with DAG(
    dag_id='conditional_processing_pipeline',
    default_args=default_args,
    description='Pipeline with conditional execution paths',
    schedule_interval='0 2 * * *',
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=['conditional', 'etl'],
) as dag:

    start = EmptyOperator(task_id='start')

    # Assess data volume to determine processing strategy
    def assess_data_volume(**context):
        """
        Check the volume of data to be processed and store the result.
        This information is used to choose the processing path.
        """
        import random

        # In production, this would query the actual data source
        # For demonstration, we simulate varying data volumes
        record_count = random.randint(100, 100000)

        context['ti'].xcom_push(key='record_count', value=record_count)

        return {'record_count': record_count}

    assess = PythonOperator(
        task_id='assess_data_volume',
        python_callable=assess_data_volume,
    )

    # Branch based on data volume
    def choose_processing_path(**context):
        """
        Determine which processing path to take based on data volume.
        Returns the task_id of the branch to execute.
        """
        ti = context['ti']
        record_count = ti.xcom_pull(task_ids='assess_data_volume', key='record_count')

        # Choose processing strategy based on volume
        if record_count < 1000:
            return 'process_small_batch'
        elif record_count < 50000:
            return 'process_medium_batch'
        else:
            return 'process_large_batch'

    branch = BranchPythonOperator(
        task_id='choose_processing_path',
        python_callable=choose_processing_path,
    )

    # Small batch processing: simple in-memory processing
    def process_small(**context):
        import logging
        logger = logging.getLogger(__name__)

        record_count = context['ti'].xcom_pull(
            task_ids='assess_data_volume', key='record_count'
        )
        logger.info(f"Processing {record_count} records using small batch strategy")

        # Simple processing for small datasets
        return {'strategy': 'small', 'records': record_count}

    process_small_batch = PythonOperator(
        task_id='process_small_batch',
        python_callable=process_small,
    )

    # Medium batch processing: chunked processing
    def process_medium(**context):
        import logging
        logger = logging.getLogger(__name__)

        record_count = context['ti'].xcom_pull(
            task_ids='assess_data_volume', key='record_count'
        )
        chunk_size = 5000
        chunks = (record_count // chunk_size) + 1

        logger.info(f"Processing {record_count} records in {chunks} chunks")

        # Process in chunks
        return {'strategy': 'medium', 'records': record_count, 'chunks': chunks}

    process_medium_batch = PythonOperator(
        task_id='process_medium_batch',
        python_callable=process_medium,
    )

    # Large batch processing: distributed processing
    def process_large(**context):
        import logging
        logger = logging.getLogger(__name__)

        record_count = context['ti'].xcom_pull(
            task_ids='assess_data_volume', key='record_count'
        )

        logger.info(f"Processing {record_count} records using distributed strategy")

        # Trigger distributed processing (e.g., Spark job)
        return {'strategy': 'large', 'records': record_count, 'distributed': True}

    process_large_batch = PythonOperator(
        task_id='process_large_batch',
        python_callable=process_large,
    )

    # Join point after branching
    # This task runs regardless of which branch was taken
    join = EmptyOperator(
        task_id='join',
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )

    # Post-processing that runs after any branch completes
    def finalize(**context):
        import logging
        logger = logging.getLogger(__name__)
        logger.info("Finalizing pipeline execution")
        return {'status': 'completed'}

    finalize_task = PythonOperator(
        task_id='finalize',
        python_callable=finalize,
    )

    # Define the workflow
    start >> assess >> branch
    branch >> [process_small_batch, process_medium_batch, process_large_batch]
    [process_small_batch, process_medium_batch, process_large_batch] >> join
    join >> finalize_task
