# From the orchestration guide (dags/idempotent_tasks.py), unedited.
# dags/idempotent_tasks.py
# Demonstrates idempotent task patterns that can be safely re-run.
# Essential for reliable data pipelines that may need to be retried.

from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.providers.postgres.hooks.postgres import PostgresHook

default_args = {
    'owner': 'data-engineering',
    'retries': 3,
    'retry_delay': timedelta(minutes=5),
}

with DAG(
    dag_id='idempotent_etl_example',
    default_args=default_args,
    schedule_interval='0 6 * * *',
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=['idempotent', 'production'],
) as dag:

    def idempotent_load(**context):
        """
        Idempotent data loading using delete-then-insert pattern.
        Safe to re-run multiple times with same result.
        """
        data_interval_start = context['data_interval_start']
        data_interval_end = context['data_interval_end']

        pg_hook = PostgresHook(postgres_conn_id='warehouse_db')

        # Step 1: Delete existing data for this interval
        # This makes the operation idempotent
        pg_hook.run(
            """
            DELETE FROM fact_sales
            WHERE order_date >= %s AND order_date < %s
            """,
            parameters=(data_interval_start, data_interval_end)
        )

        # Step 2: Insert fresh data
        pg_hook.run(
            """
            INSERT INTO fact_sales (order_id, customer_id, amount, order_date)
            SELECT order_id, customer_id, amount, order_date
            FROM staging_sales
            WHERE order_date >= %s AND order_date < %s
            """,
            parameters=(data_interval_start, data_interval_end)
        )

        return {'status': 'loaded'}

    def idempotent_upsert(**context):
        """
        Idempotent data loading using UPSERT pattern.
        Handles both new records and updates to existing records.
        """
        pg_hook = PostgresHook(postgres_conn_id='warehouse_db')

        # UPSERT using ON CONFLICT
        pg_hook.run(
            """
            INSERT INTO dim_customers (customer_id, name, email, updated_at)
            SELECT customer_id, name, email, NOW()
            FROM staging_customers
            ON CONFLICT (customer_id)
            DO UPDATE SET
                name = EXCLUDED.name,
                email = EXCLUDED.email,
                updated_at = NOW()
            """
        )

        return {'status': 'upserted'}

    load_task = PythonOperator(
        task_id='idempotent_load',
        python_callable=idempotent_load,
    )

    upsert_task = PythonOperator(
        task_id='idempotent_upsert',
        python_callable=idempotent_upsert,
    )

    load_task >> upsert_task
