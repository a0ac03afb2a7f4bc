# From the orchestration guide (dags/robust_error_handling.py), unedited.
# dags/robust_error_handling.py
# This DAG demonstrates comprehensive error handling patterns
# including retries, callbacks, and custom exception handling.

from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.operators.empty import EmptyOperator
from airflow.exceptions import AirflowException, AirflowSkipException
from airflow.utils.trigger_rule import TriggerRule
import logging

logger = logging.getLogger(__name__)

# Callback functions for task lifecycle events
# These enable custom alerting and logging behaviors

def on_failure_callback(context):
    """
    Called when a task fails after all retries are exhausted.
    Use this to send alerts, update status dashboards, or trigger recovery.
    """
    task_instance = context['task_instance']
    exception = context.get('exception')
    dag_id = context['dag'].dag_id
    task_id = task_instance.task_id
    execution_date = context['execution_date']

    error_message = f"""
    Task Failed!
    DAG: {dag_id}
    Task: {task_id}
    Execution Date: {execution_date}
    Exception: {exception}
    Log URL: {task_instance.log_url}
    """

    logger.error(error_message)

    # Send alert to monitoring system
    # send_to_oneuptime(error_message)
    # send_slack_alert(error_message)
    # send_pagerduty_alert(error_message)

def on_success_callback(context):
    """
    Called when a task completes successfully.
    Useful for tracking metrics and updating dashboards.
    """
    task_instance = context['task_instance']
    duration = task_instance.duration

    logger.info(f"Task {task_instance.task_id} completed in {duration}s")

    # Track task duration metrics
    # send_metric('task_duration', duration, tags={'task': task_instance.task_id})

def on_retry_callback(context):
    """
    Called when a task is about to be retried.
    Useful for logging retry attempts and potential issues.
    """
    task_instance = context['task_instance']
    try_number = task_instance.try_number
    max_tries = task_instance.max_tries

    logger.warning(
        f"Task {task_instance.task_id} retry {try_number}/{max_tries}"
    )

def sla_miss_callback(dag, task_list, blocking_task_list, slas, blocking_tis):
    """
    Called when tasks miss their SLA.
    Enables proactive alerting before failures occur.
    """
    logger.warning(f"SLA missed for DAG {dag.dag_id}")
    logger.warning(f"Tasks missing SLA: {task_list}")

    # Alert operations team about SLA breach
    # send_sla_alert(dag.dag_id, task_list)

default_args = {
    'owner': 'data-engineering',
    'retries': 3,
    'retry_delay': timedelta(minutes=2),
    'retry_exponential_backoff': True,
    'max_retry_delay': timedelta(minutes=15),
    'on_failure_callback': on_failure_callback,
    'on_success_callback': on_success_callback,
    'on_retry_callback': on_retry_callback,
    'execution_timeout': timedelta(hours=1),  # Task timeout
}

with DAG(
    dag_id='robust_error_handling_pipeline',
    default_args=default_args,
    description='Pipeline with comprehensive error handling',
    schedule_interval='0 6 * * *',
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=['production', 'error-handling'],
    sla_miss_callback=sla_miss_callback,
    dagrun_timeout=timedelta(hours=4),  # DAG run timeout
) as dag:

    start = EmptyOperator(task_id='start')

    # Task with custom exception handling
    def extract_with_validation(**context):
        """
        Extract data with validation and appropriate error handling.
        Raises specific exceptions based on failure type.
        """
        import random

        # Simulate different failure scenarios
        scenario = random.choice(['success', 'temporary_failure', 'data_issue', 'skip'])

        if scenario == 'temporary_failure':
            # Retriable error - will be retried
            raise ConnectionError("Database connection failed")

        if scenario == 'data_issue':
            # Data quality issue - fail immediately
            raise AirflowException("Data validation failed: missing required columns")

        if scenario == 'skip':
            # No data to process - skip downstream tasks
            raise AirflowSkipException("No new data available for processing")

        logger.info("Extract completed successfully")
        return {'records': 1000}

    extract = PythonOperator(
        task_id='extract_data',
        python_callable=extract_with_validation,
        sla=timedelta(minutes=30),  # SLA for this task
    )

    # Task that always runs for cleanup
    def cleanup_resources(**context):
        """
        Clean up resources regardless of pipeline success or failure.
        Uses trigger_rule='all_done' to run in all cases.
        """
        logger.info("Cleaning up temporary resources")

        # Clean up temp files, connections, etc.
        return {'cleanup': 'completed'}

    cleanup = PythonOperator(
        task_id='cleanup_resources',
        python_callable=cleanup_resources,
        trigger_rule=TriggerRule.ALL_DONE,  # Run regardless of upstream status
    )

    # Alert task that only runs on failure
    def send_failure_summary(**context):
        """
        Send a summary of all failures in this DAG run.
        Only runs if any upstream task failed.
        """
        dag_run = context['dag_run']

        failed_tasks = [
            ti for ti in dag_run.get_task_instances()
            if ti.state == 'failed'
        ]

        if failed_tasks:
            failure_summary = "\n".join([
                f"- {ti.task_id}: {ti.state}" for ti in failed_tasks
            ])
            logger.error(f"Failed tasks:\n{failure_summary}")

            # Send consolidated failure alert
            # send_failure_digest(dag_run.dag_id, failed_tasks)

    failure_alert = PythonOperator(
        task_id='send_failure_alert',
        python_callable=send_failure_summary,
        trigger_rule=TriggerRule.ONE_FAILED,  # Only run if something failed
    )

    end = EmptyOperator(
        task_id='end',
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )

    start >> extract >> [cleanup, failure_alert] >> end
