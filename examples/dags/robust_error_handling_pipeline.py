"""robust_error_handling_pipeline: retries, callbacks, an SLA, clean-up and a failure digest.

Ported from the orchestration guide. The extract task can succeed, fail in a way worth
retrying, fail in a way that is not, or find nothing to do; the callbacks report each
try, ``cleanup_resources`` runs whatever happened and ``send_failure_alert`` only when
something failed.

Changes from the Airflow original, each for a reason:

- The extract's outcome is the ``scenario`` param (default ``success``) instead of
  ``random.choice``, so every path can be run on purpose and tested:
  ``millstream dags test robust_error_handling_pipeline.py --conf '{"scenario": "skip"}'``.
- ``data_issue`` raises ``TaskFailedNoRetry``. The original raised ``AirflowException``
  under the comment "fail immediately", but that exception is retried like any other.
- The callbacks also post their alert to the ``alerts_webhook`` connection when it is
  defined (the original's commented-out ``send_to_oneuptime``); see ``common/alerts.py``.
- ``end`` also waits for ``extract_data`` itself. Otherwise a failed extract leaves the
  cleanup and the failure alert succeeded, ``end`` runs, and the run counts as a success.
"""

import logging
from datetime import datetime, timedelta

from common.alerts import send_alert
from common.config import PipelineConfig

from millstream import DAG, Param, TriggerRule
from millstream.exceptions import TaskFailedNoRetry, TaskSkipped
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator

logger = logging.getLogger(__name__)

SCENARIOS = ["success", "temporary_failure", "data_issue", "skip"]


def on_failure_callback(context):
    """Called when a task fails after all retries are exhausted."""
    task_instance = context["task_instance"]
    exception = context.get("exception")
    error_message = (
        "Task Failed!\n"
        f"DAG: {context['dag'].dag_id}\n"
        f"Task: {task_instance.task_id}\n"
        f"Execution Date: {context['execution_date']}\n"
        f"Exception: {exception}\n"
        f"Log URL: {task_instance.log_url}"
    )
    logger.error(error_message)
    send_alert("task_failed", error_message, context, PipelineConfig.ENABLE_NOTIFICATIONS)


def on_success_callback(context):
    """Called when a task completes successfully: its duration, for dashboards."""
    task_instance = context["task_instance"]
    logger.info("Task %s completed in %ss", task_instance.task_id, task_instance.duration)


def on_retry_callback(context):
    """Called when a task is about to be retried."""
    task_instance = context["task_instance"]
    message = (f"Task {task_instance.task_id} retry "
               f"{task_instance.try_number}/{task_instance.max_tries}: {context.get('exception')}")
    logger.warning(message)
    send_alert("task_retry", message, context, PipelineConfig.ENABLE_NOTIFICATIONS)


def sla_miss_callback(dag, task_list, blocking_task_list, slas, blocking_tis):
    """Called when tasks miss their SLA, before they have failed."""
    message = f"SLA missed for DAG {dag.dag_id}; tasks missing their SLA: {task_list}"
    logger.warning(message)
    send_alert("sla_miss", message, enabled=PipelineConfig.ENABLE_NOTIFICATIONS)


default_args = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": on_failure_callback,
    "on_success_callback": on_success_callback,
    "on_retry_callback": on_retry_callback,
    "execution_timeout": timedelta(hours=1),
}

with DAG(
    dag_id="robust_error_handling_pipeline",
    default_args=default_args,
    description="Pipeline with comprehensive error handling",
    schedule_interval="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["production", "error-handling"],
    sla_miss_callback=sla_miss_callback,
    dagrun_timeout=timedelta(hours=4),
    params={
        "scenario": Param("success", enum=SCENARIOS,
                          description="What the extract runs into: " + ", ".join(SCENARIOS)),
    },
) as dag:

    start = EmptyOperator(task_id="start")

    def extract_with_validation(**context):
        """Extract data, raising the exception that fits each kind of failure."""
        scenario = context["params"]["scenario"]

        if scenario == "temporary_failure":
            # Retriable error: retried with exponential backoff
            raise ConnectionError("Database connection failed")

        if scenario == "data_issue":
            # Data quality issue: fail immediately, retries would find the same data
            raise TaskFailedNoRetry("Data validation failed: missing required columns")

        if scenario == "skip":
            # No data to process: skip downstream tasks
            raise TaskSkipped("No new data available for processing")

        logger.info("Extract completed successfully")
        return {"records": 1000}

    extract = PythonOperator(
        task_id="extract_data",
        python_callable=extract_with_validation,
        sla=timedelta(minutes=30),
    )

    def cleanup_resources(**context):
        """Clean up resources regardless of pipeline success or failure."""
        logger.info("Cleaning up temporary resources")
        return {"cleanup": "completed"}

    cleanup = PythonOperator(
        task_id="cleanup_resources",
        python_callable=cleanup_resources,
        trigger_rule=TriggerRule.ALL_DONE,  # run regardless of upstream status
    )

    def send_failure_summary(**context):
        """Report every failed task of this run in one alert."""
        dag_run = context["dag_run"]
        failed_tasks = [ti for ti in dag_run.get_task_instances() if ti.state == "failed"]
        failure_summary = "\n".join(f"- {ti.task_id}: {ti.state}" for ti in failed_tasks)
        logger.error("Failed tasks:\n%s", failure_summary)
        send_alert("failure_digest", f"Failed tasks of {dag_run.run_id}:\n{failure_summary}",
                   enabled=PipelineConfig.ENABLE_NOTIFICATIONS)
        return {"failed_tasks": sorted(ti.task_id for ti in failed_tasks)}

    failure_alert = PythonOperator(
        task_id="send_failure_alert",
        python_callable=send_failure_summary,
        trigger_rule=TriggerRule.ONE_FAILED,  # only run if something failed
    )

    end = EmptyOperator(
        task_id="end",
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    )

    start >> extract >> [cleanup, failure_alert] >> end
    extract >> end  # a failed extract fails the run, though the alert and clean-up succeed
