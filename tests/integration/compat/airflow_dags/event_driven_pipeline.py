# From the orchestration guide; changed: filepath is relative to the data_filesystem connection's base path.
# dags/event_driven_pipeline.py
# This DAG waits for external events before processing.
# It demonstrates file sensors, external task sensors, and custom sensors.

from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.operators.empty import EmptyOperator
from airflow.sensors.filesystem import FileSensor
from airflow.sensors.external_task import ExternalTaskSensor
from airflow.sensors.base import BaseSensorOperator
from airflow.utils.decorators import apply_defaults

# Custom sensor for checking API availability
# This pattern is useful when you need to wait for external services
class ApiAvailabilitySensor(BaseSensorOperator):
    """
    Custom sensor that checks if an API endpoint is available and ready.
    Pokes the endpoint until it returns a successful response.
    """

    @apply_defaults
    def __init__(self, endpoint_url, expected_status=200, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.endpoint_url = endpoint_url
        self.expected_status = expected_status

    def poke(self, context):
        import requests
        import logging

        logger = logging.getLogger(__name__)

        try:
            response = requests.get(self.endpoint_url, timeout=10)
            is_ready = response.status_code == self.expected_status

            if is_ready:
                logger.info(f"API is ready: {self.endpoint_url}")
            else:
                logger.info(f"API returned {response.status_code}, waiting...")

            return is_ready
        except requests.RequestException as e:
            logger.warning(f"API check failed: {e}")
            return False

default_args = {
    'owner': 'data-engineering',
    'retries': 1,
    'retry_delay': timedelta(minutes=5),
}

with DAG(
    dag_id='event_driven_etl',
    default_args=default_args,
    description='Event-driven ETL pipeline with sensors',
    schedule_interval='0 * * * *',  # Hourly
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=['event-driven', 'sensors'],
) as dag:

    start = EmptyOperator(task_id='start')

    # Wait for the upstream data pipeline to complete
    # This creates a dependency between DAGs without tight coupling
    wait_for_upstream = ExternalTaskSensor(
        task_id='wait_for_upstream_pipeline',
        external_dag_id='data_ingestion_pipeline',
        external_task_id='complete',
        execution_delta=timedelta(hours=0),  # Same execution time
        timeout=7200,  # 2 hour timeout
        mode='reschedule',  # Free worker while waiting
        poke_interval=300,  # Check every 5 minutes
    )

    # Wait for a data file to appear in the landing zone
    # Using reschedule mode to free up workers during long waits
    wait_for_file = FileSensor(
        task_id='wait_for_data_file',
        filepath='landing/sales_{{ ds }}.csv',
        poke_interval=60,
        timeout=3600,  # 1 hour timeout
        mode='reschedule',
        fs_conn_id='data_filesystem',
    )

    # Wait for external API to be available
    wait_for_api = ApiAvailabilitySensor(
        task_id='wait_for_api',
        endpoint_url='https://api.example.com/health',
        expected_status=200,
        poke_interval=30,
        timeout=600,
        mode='poke',  # Short wait, keep worker
    )

    # Process data after all sensors pass
    def process_data(**context):
        import logging
        logger = logging.getLogger(__name__)

        logger.info("All dependencies satisfied, processing data...")

        # Your processing logic here
        return {'status': 'processed'}

    process = PythonOperator(
        task_id='process_data',
        python_callable=process_data,
    )

    end = EmptyOperator(task_id='end')

    # Sensors can run in parallel, then process after all complete
    start >> [wait_for_upstream, wait_for_file, wait_for_api] >> process >> end
