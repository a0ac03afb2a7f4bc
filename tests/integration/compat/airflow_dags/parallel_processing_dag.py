# From the orchestration guide (dags/parallel_processing_dag.py), unedited.
# dags/parallel_processing_dag.py
# This DAG demonstrates dynamic task generation for parallel processing
# of multiple data sources with proper dependency management.

from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.operators.empty import EmptyOperator

# Configuration for data sources to process
# In production, this could come from a database or configuration file
DATA_SOURCES = [
    {'name': 'customers', 'table': 'dim_customers', 'priority': 1},
    {'name': 'products', 'table': 'dim_products', 'priority': 1},
    {'name': 'orders', 'table': 'fact_orders', 'priority': 2},
    {'name': 'inventory', 'table': 'fact_inventory', 'priority': 2},
    {'name': 'shipments', 'table': 'fact_shipments', 'priority': 3},
]

default_args = {
    'owner': 'data-engineering',
    'retries': 2,
    'retry_delay': timedelta(minutes=3),
}

with DAG(
    dag_id='parallel_data_sync',
    default_args=default_args,
    description='Parallel processing of multiple data sources',
    schedule_interval='0 */4 * * *',  # Every 4 hours
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=['sync', 'parallel', 'production'],
    max_active_tasks=10,  # Allow up to 10 concurrent tasks
) as dag:

    start = EmptyOperator(task_id='start')

    # Group tasks by priority for proper ordering
    priority_groups = {}

    for source in DATA_SOURCES:
        priority = source['priority']
        if priority not in priority_groups:
            priority_groups[priority] = []

        # Create a processing function for each source
        # Using a closure to capture the source configuration
        def create_process_function(source_config):
            def process_source(**context):
                import logging
                logger = logging.getLogger(__name__)

                source_name = source_config['name']
                table_name = source_config['table']

                logger.info(f"Processing source: {source_name}")
                logger.info(f"Target table: {table_name}")

                # Simulate data processing
                # In production, this would contain actual ETL logic
                import time
                time.sleep(2)

                return {
                    'source': source_name,
                    'table': table_name,
                    'status': 'completed',
                    'records_processed': 1000,
                }
            return process_source

        task = PythonOperator(
            task_id=f"process_{source['name']}",
            python_callable=create_process_function(source),
            pool='data_sync_pool',  # Use pool to limit concurrency
        )

        priority_groups[priority].append(task)

    # Create completion markers for each priority group
    previous_group = [start]

    for priority in sorted(priority_groups.keys()):
        tasks = priority_groups[priority]
        group_complete = EmptyOperator(task_id=f'priority_{priority}_complete')

        # Previous group must complete before this group starts
        previous_group >> tasks
        # All tasks in this group must complete before marker
        tasks >> group_complete

        previous_group = [group_complete]

    end = EmptyOperator(task_id='end')
    previous_group >> end
