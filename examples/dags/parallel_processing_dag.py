"""parallel_data_sync: one task per data source, run in waves by priority.

Ported from the orchestration guide. Sources of the same priority run in parallel (limited
by the ``data_sync_pool`` pool); a marker task closes each wave before the next starts.
Changes from the Airflow original: the imports; the pause that stands in for real work is
the ``simulated_work_seconds`` param (default 0, so test runs are instant); and the wiring
between two waves uses ``cross_downstream``, because ``[a] >> [b, c]`` between two plain
Python lists is a TypeError in Python itself, in Airflow as much as here.
"""

import logging
import time
from datetime import datetime, timedelta

from millstream import DAG, Param, cross_downstream
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator

log = logging.getLogger(__name__)

# Fixed here for the example; a real deployment might read the list from a config table.
DATA_SOURCES = [
    {"name": "customers", "table": "dim_customers", "priority": 1},
    {"name": "products", "table": "dim_products", "priority": 1},
    {"name": "orders", "table": "fact_orders", "priority": 2},
    {"name": "inventory", "table": "fact_inventory", "priority": 2},
    {"name": "shipments", "table": "fact_shipments", "priority": 3},
]

default_args = {
    "owner": "data-engineering",
    "retries": 2,
    "retry_delay": timedelta(minutes=3),
}

with DAG(
    dag_id="parallel_data_sync",
    default_args=default_args,
    description="Parallel processing of multiple data sources",
    schedule_interval="0 */4 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["sync", "parallel", "production"],
    max_active_tasks=10,
    params={
        "simulated_work_seconds": Param(
            0, type="number", minimum=0,
            description="How long each source's sync pretends to work",
        ),
    },
) as dag:
    start = EmptyOperator(task_id="start")

    priority_groups = {}

    for source in DATA_SOURCES:
        priority = source["priority"]
        if priority not in priority_groups:
            priority_groups[priority] = []

        # A factory, so each callable keeps its own source: a plain closure over the loop
        # variable would see only the last source by the time the tasks run.
        def create_process_function(source_config):
            def process_source(**context):
                source_name = source_config["name"]
                table_name = source_config["table"]
                log.info("syncing source %s into table %s", source_name, table_name)
                time.sleep(float(context["params"]["simulated_work_seconds"]))
                return {
                    "source": source_name,
                    "table": table_name,
                    "status": "completed",
                    "records_processed": 1000,
                }

            return process_source

        task = PythonOperator(
            task_id=f"process_{source['name']}",
            python_callable=create_process_function(source),
            pool="data_sync_pool",
        )

        priority_groups[priority].append(task)

    previous_group = [start]

    for priority in sorted(priority_groups.keys()):
        tasks = priority_groups[priority]
        group_complete = EmptyOperator(task_id=f"priority_{priority}_complete")

        # Every task of this wave waits for the whole previous wave ...
        cross_downstream(previous_group, tasks)
        # ... and the marker waits for every task of this wave.
        tasks >> group_complete

        previous_group = [group_complete]

    end = EmptyOperator(task_id="end")
    previous_group >> end
