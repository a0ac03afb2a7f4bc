"""idempotent_etl_example: two loads that give the same warehouse however often they re-run.

Ported from the orchestration guide. ``idempotent_load`` replaces the interval's rows of
``fact_sales`` with those of ``staging_sales`` (delete, then insert); ``idempotent_upsert``
merges ``staging_customers`` into ``dim_customers`` with ``INSERT ... ON CONFLICT DO
UPDATE``. Running a day twice leaves the same rows as running it once.

The warehouse is the ``warehouse_db`` connection (PostgreSQL or SQLite), or, when it is
not defined, a SQLite file under ``$MILLSTREAM_HOME/example_data``.

Changes from the Airflow original, each for a reason:

- A first task, ``prepare_staging``, creates the four tables if they are missing and, on
  the SQLite stand-in only, fills the staging tables with generated orders and customers,
  in place of the upstream job that lands them in a real warehouse.
- The delete and the insert run in one transaction (the original ran them as two
  statements, each committed): a failure between them can no longer leave the interval
  empty.
- ``NOW()`` is ``CURRENT_TIMESTAMP``, and the upsert's ``SELECT`` has a ``WHERE`` clause,
  so the same SQL runs on SQLite too.
"""

from datetime import UTC, date, datetime, timedelta

from common.config import PipelineConfig
from common.db import Database, Session
from common.sales_data import ORDER_IDS_PER_DAY, OrderGenerator

from millstream import DAG
from millstream.operators.python import PythonOperator

WAREHOUSE_CONN_ID = PipelineConfig.get_connection_config("warehouse")


def create_tables(session: Session, warehouse: Database) -> None:
    """The staging, fact and dimension tables of this example, created if missing."""
    timestamp = warehouse.timestamp_type
    for table in ("staging_sales", "fact_sales"):
        session.execute(f"""
            CREATE TABLE IF NOT EXISTS {table} (
                order_id BIGINT PRIMARY KEY,
                customer_id INTEGER NOT NULL,
                amount NUMERIC(12, 2) NOT NULL,
                order_date {timestamp} NOT NULL
            )
        """)
        session.execute(
            f"CREATE INDEX IF NOT EXISTS {table}_order_date ON {table} (order_date)")
    session.execute("""
        CREATE TABLE IF NOT EXISTS staging_customers (
            customer_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL
        )
    """)
    session.execute(f"""
        CREATE TABLE IF NOT EXISTS dim_customers (
            customer_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            updated_at {timestamp} NOT NULL
        )
    """)


def stage_generated_orders(session: Session, data_interval_start: datetime,
                           data_interval_end: datetime) -> int:
    """Fill the stand-in's staging tables with the interval's generated orders and customers."""
    settings = PipelineConfig.DEMO_DATA
    generator = OrderGenerator.from_settings(settings, invalid_share=0.0)
    span_days = (data_interval_end - data_interval_start) / timedelta(days=1)
    count = max(1, round(settings["orders_per_day"] * span_days))
    first_day = data_interval_start.astimezone(UTC).date()
    first_id = (first_day - date(2000, 1, 1)).days * ORDER_IDS_PER_DAY + 1
    orders = list(generator.orders(data_interval_start, data_interval_end, count, first_id))
    session.write_rows(
        "staging_sales", ("order_id", "customer_id", "amount", "order_date"),
        [(o[0], o[1], o[3] * o[4], o[5]) for o in orders],
    )
    for customer_id in sorted({o[1] for o in orders}):
        session.execute(
            "INSERT INTO staging_customers (customer_id, name, email) VALUES (%s, %s, %s) "
            "ON CONFLICT (customer_id) DO NOTHING",
            (customer_id, f"Customer {customer_id}", f"customer{customer_id}@example.com"),
        )
    return len(orders)


default_args = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
}

with DAG(
    dag_id="idempotent_etl_example",
    default_args=default_args,
    schedule_interval="0 6 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["idempotent", "production"],
) as dag:

    def prepare_staging(**context):
        """Create the tables if needed; on the SQLite stand-in, stage the interval's data."""
        data_interval_start = context["data_interval_start"]
        data_interval_end = context["data_interval_end"]
        warehouse = Database.for_connection(WAREHOUSE_CONN_ID)
        with warehouse.session() as session:
            create_tables(session, warehouse)
            (staged,) = session.first(
                "SELECT COUNT(*) FROM staging_sales WHERE order_date >= %s AND order_date < %s",
                (data_interval_start, data_interval_end),
            )
            if warehouse.is_demo and staged == 0:
                staged = stage_generated_orders(session, data_interval_start, data_interval_end)
        return {"staged_orders": staged}

    def idempotent_load(**context):
        """Replace the interval's rows of fact_sales: safe to re-run, same result."""
        data_interval_start = context["data_interval_start"]
        data_interval_end = context["data_interval_end"]

        warehouse = Database.for_connection(WAREHOUSE_CONN_ID)
        with warehouse.session() as session:
            # Step 1: Delete existing data for this interval
            # This makes the operation idempotent
            deleted = session.execute(
                """
                DELETE FROM fact_sales
                WHERE order_date >= %s AND order_date < %s
                """,
                (data_interval_start, data_interval_end),
            )

            # Step 2: Insert fresh data (same transaction: never a moment with none)
            inserted = session.execute(
                """
                INSERT INTO fact_sales (order_id, customer_id, amount, order_date)
                SELECT order_id, customer_id, amount, order_date
                FROM staging_sales
                WHERE order_date >= %s AND order_date < %s
                """,
                (data_interval_start, data_interval_end),
            )

        return {"status": "loaded", "deleted": deleted, "inserted": inserted}

    def idempotent_upsert(**context):
        """Merge staging_customers into dim_customers: new rows inserted, known ones updated."""
        warehouse = Database.for_connection(WAREHOUSE_CONN_ID)
        with warehouse.session() as session:
            upserted = session.execute(
                """
                INSERT INTO dim_customers (customer_id, name, email, updated_at)
                SELECT customer_id, name, email, CURRENT_TIMESTAMP
                FROM staging_customers
                WHERE true
                ON CONFLICT (customer_id)
                DO UPDATE SET
                    name = EXCLUDED.name,
                    email = EXCLUDED.email,
                    updated_at = EXCLUDED.updated_at
                """
            )

        return {"status": "upserted", "upserted": upserted}

    prepare_task = PythonOperator(
        task_id="prepare_staging",
        python_callable=prepare_staging,
    )

    load_task = PythonOperator(
        task_id="idempotent_load",
        python_callable=idempotent_load,
    )

    upsert_task = PythonOperator(
        task_id="idempotent_upsert",
        python_callable=idempotent_upsert,
    )

    prepare_task >> load_task >> upsert_task
