"""event_driven_etl: wait for an upstream DAG, a data file and an API, then process.

Ported from the orchestration guide's sensors section. Three sensors run side by side
after ``start``: the hour's run of ``data_ingestion_pipeline`` (see
data_ingestion_pipeline.py) must have finished its ``complete`` task, the hour's sales
file must be in the landing zone, and the API must answer its health check. Then
``process_data`` runs, and ``end``.

Where things are, so that it runs on a fresh machine and anywhere else:

- the landing zone is the variable ``event_driven_etl_landing_dir``, by default
  ``$MILLSTREAM_HOME/data/landing``; the file waited for is ``sales_<ds>.csv`` in it;
- the API health URL is the variable ``event_driven_etl_api_url``, by default the health
  endpoint of this installation's own web server
  (``http://127.0.0.1:<[webserver] port>/api/v1/health``, which ``millstream standalone``
  serves).

For instance::

    export MILLSTREAM_VAR_EVENT_DRIVEN_ETL_LANDING_DIR=/data/landing
    millstream variables set event_driven_etl_api_url https://api.example.com/health

Changes from the Airflow original, each for a reason:

- No sensor holds a worker slot while it waits. The upstream and API sensors use
  ``mode="reschedule"`` (the original kept the API sensor in ``poke`` mode, holding a
  slot for up to ten minutes); the file sensor is deferrable: the triggerer watches for
  the file, which costs no slot at all, however long the file takes.
- The upstream sensor fails at once, naming the upstream DAG, task and run, when that
  task failed (``failed_states``), and when the upstream DAG does not exist
  (``check_existence``); the original waited two hours for its timeout in both cases.
- The file path and the API URL come from variables with local defaults (above)
  instead of ``/data/landing`` and ``api.example.com``; the original's
  ``fs_conn_id="data_filesystem"`` is not needed for an absolute path.
- ``ApiAvailabilitySensor`` uses httpx (a millstream dependency) instead of requests,
  and its ``endpoint_url`` is templated. ``@apply_defaults`` is gone: it has done
  nothing since Airflow 2 (millstream accepts it for old DAG files too).
- ``process_data`` reads the file and returns its row count with the status.
- The environment variable ``EVENT_DRIVEN_ETL_POKE_SECONDS`` sets one poke interval for
  every sensor (e.g. ``0.5`` for a demo or a test); unset, the article's intervals apply.
- ``is_paused_upon_creation=True``: it starts paused, ``millstream standalone`` included
  (which starts the other examples unpaused), since on a fresh machine neither the file
  nor the upstream run exists and every hourly run would fail.
"""

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from millstream import DAG
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.sensors import BaseSensorOperator, ExternalTaskSensor, FileSensor

logger = logging.getLogger(__name__)

LANDING_DIR_VARIABLE = "event_driven_etl_landing_dir"
API_URL_VARIABLE = "event_driven_etl_api_url"
POKE_SECONDS_ENV = "EVENT_DRIVEN_ETL_POKE_SECONDS"


def landing_dir() -> str:
    """The landing zone: the variable, else ``<MILLSTREAM_HOME>/data/landing``."""
    from millstream.config import load_settings
    from millstream.secrets import Variable

    default = Path(load_settings().core.home) / "data" / "landing"
    return Variable.get(LANDING_DIR_VARIABLE, default_var=str(default))


def api_health_url() -> str:
    """The URL the API sensor checks: the variable, else this web server's health endpoint."""
    from millstream.config import load_settings
    from millstream.secrets import Variable

    port = load_settings().webserver.port
    return Variable.get(API_URL_VARIABLE, default_var=f"http://127.0.0.1:{port}/api/v1/health")


def poke_every(article_seconds: float) -> float:
    """The article's poke interval, unless EVENT_DRIVEN_ETL_POKE_SECONDS sets one for all."""
    raw = os.environ.get(POKE_SECONDS_ENV)
    if raw is None:
        return article_seconds
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ValueError(f"environment variable {POKE_SECONDS_ENV}={raw!r}: expected a "
                         "positive number of seconds")
    return seconds


# Custom sensor for checking API availability
# This pattern is useful when you need to wait for external services
class ApiAvailabilitySensor(BaseSensorOperator):
    """
    Custom sensor that checks if an API endpoint is available and ready.
    Pokes the endpoint until it returns the expected status (200 by default).
    """

    template_fields = ("endpoint_url",)

    def __init__(self, endpoint_url, expected_status=200, **kwargs):
        super().__init__(**kwargs)
        self.endpoint_url = endpoint_url
        self.expected_status = expected_status

    def poke(self, context):
        import httpx

        try:
            response = httpx.get(self.endpoint_url, timeout=10)
        except httpx.HTTPError as e:
            logger.warning(f"API check failed: {e}")
            return False

        is_ready = response.status_code == self.expected_status
        if is_ready:
            logger.info(f"API is ready: {self.endpoint_url}")
        else:
            logger.info(f"API returned {response.status_code}, waiting...")
        return is_ready


default_args = {
    "owner": "data-engineering",
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
}

with DAG(
    dag_id="event_driven_etl",
    default_args=default_args,
    description="Event-driven ETL pipeline with sensors",
    schedule_interval="0 * * * *",  # Hourly
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,  # waits for things a fresh machine lacks: see above
    tags=["event-driven", "sensors"],
    user_defined_macros={"landing_dir": landing_dir, "api_health_url": api_health_url},
) as dag:

    start = EmptyOperator(task_id="start")

    # Wait for the upstream data pipeline to complete
    # This creates a dependency between DAGs without tight coupling
    wait_for_upstream = ExternalTaskSensor(
        task_id="wait_for_upstream_pipeline",
        external_dag_id="data_ingestion_pipeline",
        external_task_id="complete",
        execution_delta=timedelta(hours=0),  # Same execution time
        failed_states=["failed", "upstream_failed"],  # fail at once, naming the upstream
        check_existence=True,
        timeout=7200,  # 2 hour timeout
        mode="reschedule",  # Free worker while waiting
        poke_interval=poke_every(300),  # Check every 5 minutes
    )

    # Wait for a data file to appear in the landing zone
    # Deferred to the triggerer: no worker slot is used during long waits
    wait_for_file = FileSensor(
        task_id="wait_for_data_file",
        filepath="{{ landing_dir() }}/sales_{{ ds }}.csv",
        poke_interval=poke_every(60),
        timeout=3600,  # 1 hour timeout
        deferrable=True,
    )

    # Wait for external API to be available
    wait_for_api = ApiAvailabilitySensor(
        task_id="wait_for_api",
        endpoint_url="{{ api_health_url() }}",
        expected_status=200,
        poke_interval=poke_every(30),
        timeout=600,
        mode="reschedule",  # Free the worker between checks
    )

    # Process data after all sensors pass
    def process_data(**context):
        logger.info("All dependencies satisfied, processing data...")

        path = Path(landing_dir()) / f"sales_{context['ds']}.csv"
        with path.open(encoding="utf-8") as handle:
            rows = max(sum(1 for line in handle if line.strip()) - 1, 0)  # minus the header
        logger.info("Read %d rows from %s", rows, path)
        return {"status": "processed", "file": str(path), "rows": rows}

    process = PythonOperator(
        task_id="process_data",
        python_callable=process_data,
    )

    end = EmptyOperator(task_id="end")

    # Sensors can run in parallel, then process after all complete
    start >> [wait_for_upstream, wait_for_file, wait_for_api] >> process >> end
