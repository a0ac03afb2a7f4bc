"""etl_sales_pipeline: the daily sales ETL of the orchestration guide, run for real.

Extracts the orders of the run's data interval from the source database, cleans them and
derives the order totals, loads them into the warehouse's ``sales_fact`` table, rebuilds
the monthly ``sales_summary`` rows they touch, checks what was loaded and removes the
run's intermediate files.

The source and the warehouse are the connections ``sales_db`` and ``warehouse_db`` (named
in ``config/pipeline_config.yaml``), PostgreSQL or SQLite, e.g.
``MILLSTREAM_CONN_SALES_DB=postgresql://etl@db.internal:5432/sales``. When a connection is
not defined at all, a SQLite file under ``$MILLSTREAM_HOME/example_data`` stands in for
it, and the stand-in source is filled with generated orders, so the pipeline runs on a
fresh machine with nothing to set up.

Changes from the Airflow original, each for a reason:

- No pandas: the transform streams CSV rows with the same rules (drop orders whose
  quantity or price is not positive; add ``total_amount`` and ``order_month``).
- Intermediate files live in a folder of their own per run under ``$MILLSTREAM_HOME``,
  not in ``/tmp/sales_extract_{ds}.parquet``, which two runs of one day (or two users)
  would share; the cleanup task removes that folder.
- The detail load deletes the interval's rows and COPYs the new ones in one transaction,
  so a re-run replaces them and a failed load leaves the previous rows in place.
- The original upserted the day's aggregate onto the month's key, so every day overwrote
  the month's totals with its own. Here the summary of each month the run touched is
  recomputed from ``sales_fact`` (hence after the detail load, not beside it) and upserted.
- A failed check raises ``DataQualityError``, which fails at once: retrying a check
  cannot change the data it found.
- ``end`` also waits for ``validate_data`` itself: the cleanup runs whatever happened, so
  without that edge a failed validation would still let ``end`` succeed and the run count
  as a success.
"""

import csv
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from common.config import PipelineConfig
from common.db import Database, Session
from common.sales_data import OrderGenerator, ensure_demo_orders
from common.validation import check_no_nulls, check_row_count
from common.workspace import remove_run_folder, run_folder

from millstream import DAG, TaskGroup
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator

logger = logging.getLogger(__name__)

SOURCE_CONN_ID = PipelineConfig.get_connection_config("source")
WAREHOUSE_CONN_ID = PipelineConfig.get_connection_config("warehouse")

# The columns of the transformed file, in the order sales_fact is loaded from it.
FACT_COLUMNS = (
    "order_id", "customer_id", "product_id", "quantity", "unit_price",
    "total_amount", "order_date", "order_month", "region",
)


def create_warehouse_tables(session: Session, warehouse: Database) -> None:
    """The warehouse tables, created on first use (the statements do nothing afterwards)."""
    timestamp = warehouse.timestamp_type
    session.execute(f"""
        CREATE TABLE IF NOT EXISTS sales_fact (
            order_id BIGINT PRIMARY KEY,
            customer_id INTEGER,
            product_id INTEGER,
            quantity INTEGER NOT NULL,
            unit_price NUMERIC(10, 2) NOT NULL,
            total_amount NUMERIC(14, 2) NOT NULL,
            order_date {timestamp} NOT NULL,
            order_month TEXT NOT NULL,
            region TEXT
        )
    """)
    session.execute("CREATE INDEX IF NOT EXISTS sales_fact_order_date ON sales_fact (order_date)")
    session.execute(f"""
        CREATE TABLE IF NOT EXISTS sales_summary (
            region TEXT NOT NULL,
            product_id INTEGER NOT NULL,
            order_month TEXT NOT NULL,
            order_count INTEGER NOT NULL,
            total_quantity BIGINT NOT NULL,
            total_revenue NUMERIC(16, 2) NOT NULL,
            updated_at {timestamp} NOT NULL,
            PRIMARY KEY (region, product_id, order_month)
        )
    """)


def month_bounds(months: list[str]) -> tuple[datetime, datetime]:
    """From the first instant of the earliest month to the first instant after the latest."""
    first = datetime.strptime(min(months), "%Y-%m").replace(tzinfo=UTC)
    last = datetime.strptime(max(months), "%Y-%m").replace(tzinfo=UTC)
    after_last = (last + timedelta(days=32)).replace(day=1)
    return first, after_last


def _positive(text: str, kind: type[int] | type[Decimal]) -> int | Decimal | None:
    """The value of a CSV field if it is a positive number, else None."""
    try:
        value = kind(text)
    except (ValueError, InvalidOperation):  # empty (NULL) or not a number
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None  # NaN or Infinity is no price
    return value if value > 0 else None


def transform_orders(input_path: Path, detail_path: Path) -> dict[str, Any]:
    """Drop invalid orders and add each one's total and month; returns what it did.

    Streams the extract file row by row, so memory stays flat however many orders
    there are. An empty extract gives an empty detail file.
    """
    initial_count = cleaned_count = 0
    order_months = set()
    with input_path.open(newline="", encoding="utf-8") as source, \
            detail_path.open("w", newline="", encoding="utf-8") as target:
        writer = csv.writer(target, lineterminator="\n")
        for order_id, customer_id, product_id, quantity, unit_price, order_date, region \
                in csv.reader(source):
            initial_count += 1
            # Data cleaning: orders without a positive quantity and price are invalid
            count = _positive(quantity, int)
            price = _positive(unit_price, Decimal)
            if count is None or price is None:
                continue
            order_month = order_date[:7]
            order_months.add(order_month)
            writer.writerow((order_id, customer_id, product_id, quantity, unit_price,
                             count * price, order_date, order_month, region))
            cleaned_count += 1
    return {
        "detail_path": str(detail_path),
        "detail_count": cleaned_count,
        "removed_count": initial_count - cleaned_count,
        "order_months": sorted(order_months),
    }


default_args = {
    "owner": "data-engineering",
    "depends_on_past": False,
    "email": PipelineConfig.ALERT_EMAILS,
    "email_on_failure": True,
    "email_on_retry": False,
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}

with DAG(
    dag_id="etl_sales_pipeline",
    default_args=default_args,
    description="Daily ETL pipeline for sales data processing",
    schedule_interval="0 6 * * *",  # daily at 06:00 UTC
    start_date=datetime(2026, 1, 1),
    catchup=False,  # no backfill of the days before the first deployment
    tags=["etl", "sales", "production", "critical"],
    max_active_runs=1,  # runs of consecutive days never overlap
    dagrun_timeout=timedelta(hours=4),
    doc_md=f"""
    ## Sales ETL Pipeline

    This pipeline processes daily sales data through three stages:
    1. **Extract**: pull the interval's orders from the source database
    2. **Transform**: clean them and derive the order totals
    3. **Load**: replace the interval's rows of `sales_fact`, then rebuild the touched
       months of `sales_summary`

    ### Dependencies
    - Source: `{SOURCE_CONN_ID}` connection (PostgreSQL or SQLite)
    - Target: `{WAREHOUSE_CONN_ID}` connection (PostgreSQL or SQLite)

    Without those connections, SQLite files under `$MILLSTREAM_HOME/example_data` stand
    in, the source filled with generated orders.

    ### Alerts
    Failures are emailed to {", ".join(PipelineConfig.ALERT_EMAILS) or "nobody"}.
    """,
) as dag:

    start = EmptyOperator(task_id="start")

    def extract_sales_data(**context):
        """Copy the orders of the run's data interval from the source into a CSV file.

        Returns metadata via XCom, not the data itself.
        """
        data_interval_start = context["data_interval_start"]
        data_interval_end = context["data_interval_end"]
        logger.info("Extracting sales data from %s to %s", data_interval_start, data_interval_end)

        source = Database.for_connection(SOURCE_CONN_ID)
        if source.is_demo:
            settings = PipelineConfig.DEMO_DATA
            added = ensure_demo_orders(source, data_interval_start, data_interval_end,
                                       OrderGenerator.from_settings(settings),
                                       settings["orders_per_day"])
            logger.info("Using the stand-in source %s (%d orders generated now)",
                        source.description, added)

        # Parameterized query; order_date comes out as UTC text on either engine.
        query = f"""
            SELECT order_id, customer_id, product_id, quantity, unit_price,
                   {source.as_utc_text("order_date")}, region
            FROM sales_orders
            WHERE order_date >= %s AND order_date < %s
        """
        output_path = run_folder(context["dag"].dag_id, context["run_id"]) / "sales_extract.csv"
        with source.session() as session:
            record_count = session.copy_query_to_csv(
                query, (data_interval_start, data_interval_end), output_path)
        logger.info("Extracted %d records into %s", record_count, output_path)

        return {
            "record_count": record_count,
            "output_path": str(output_path),
            "data_interval_start": str(data_interval_start),
            "data_interval_end": str(data_interval_end),
        }

    extract = PythonOperator(
        task_id="extract_sales_data",
        python_callable=extract_sales_data,
    )

    def transform_sales_data(**context):
        """Clean the extracted orders and derive their totals, file to file."""
        extract_result = context["ti"].xcom_pull(task_ids="extract_sales_data")
        input_path = Path(extract_result["output_path"])
        logger.info("Transforming data from %s", input_path)
        result = transform_orders(input_path, input_path.with_name("sales_transformed.csv"))
        logger.info("Cleaned data: %d records (%d removed)",
                    result["detail_count"], result["removed_count"])
        return result

    transform = PythonOperator(
        task_id="transform_sales_data",
        python_callable=transform_sales_data,
    )

    with TaskGroup(group_id="load_tasks") as load_group:

        def load_detail_data(**context):
            """Replace the interval's rows of sales_fact with the transformed orders."""
            transform_result = context["ti"].xcom_pull(task_ids="transform_sales_data")
            detail_path = Path(transform_result["detail_path"])
            data_interval_start = context["data_interval_start"]
            data_interval_end = context["data_interval_end"]

            warehouse = Database.for_connection(WAREHOUSE_CONN_ID)
            logger.info("Loading %d detail records into %s",
                        transform_result["detail_count"], warehouse.description)
            with warehouse.session() as session:
                create_warehouse_tables(session, warehouse)
                # Delete, then insert, in one transaction: idempotent, and all or nothing.
                replaced = session.execute(
                    "DELETE FROM sales_fact WHERE order_date >= %s AND order_date < %s",
                    (data_interval_start, data_interval_end),
                )
                loaded = session.copy_csv_into("sales_fact", FACT_COLUMNS, detail_path,
                                               PipelineConfig.BATCH_SIZE)
            logger.info("Detail data loaded: %d rows (%d replaced)", loaded, replaced)
            return {"detail_loaded": loaded, "detail_replaced": replaced}

        def load_summary_data(**context):
            """Recompute each month the run touched from sales_fact and upsert it."""
            transform_result = context["ti"].xcom_pull(task_ids="transform_sales_data")
            months = transform_result["order_months"]
            if not months:
                logger.info("No orders in this interval: the summary is unchanged")
                return {"summary_loaded": 0, "order_months": []}
            month_start, month_end = month_bounds(months)
            in_months = ", ".join(["%s"] * len(months))

            warehouse = Database.for_connection(WAREHOUSE_CONN_ID)
            with warehouse.session() as session:
                create_warehouse_tables(session, warehouse)
                session.execute("""
                    CREATE TEMPORARY TABLE sales_summary_staging (
                        region TEXT, product_id INTEGER, order_month TEXT,
                        order_count INTEGER, total_quantity BIGINT, total_revenue NUMERIC(16, 2)
                    )
                """)
                session.execute("""
                    INSERT INTO sales_summary_staging
                    SELECT region, product_id, order_month,
                           COUNT(*), SUM(quantity), SUM(total_amount)
                    FROM sales_fact
                    WHERE order_date >= %s AND order_date < %s
                      AND region IS NOT NULL AND product_id IS NOT NULL
                    GROUP BY region, product_id, order_month
                """, (month_start, month_end))
                # Merge into the main table
                upserted = session.execute("""
                    INSERT INTO sales_summary (region, product_id, order_month,
                                               order_count, total_quantity, total_revenue,
                                               updated_at)
                    SELECT region, product_id, order_month,
                           order_count, total_quantity, total_revenue, CURRENT_TIMESTAMP
                    FROM sales_summary_staging
                    WHERE true
                    ON CONFLICT (region, product_id, order_month)
                    DO UPDATE SET
                        order_count = EXCLUDED.order_count,
                        total_quantity = EXCLUDED.total_quantity,
                        total_revenue = EXCLUDED.total_revenue,
                        updated_at = EXCLUDED.updated_at
                """)
                # A group whose orders have all gone from the source since the last run
                vanished = session.execute(f"""
                    DELETE FROM sales_summary
                    WHERE order_month IN ({in_months})
                      AND NOT EXISTS (
                          SELECT 1 FROM sales_summary_staging s
                          WHERE s.region = sales_summary.region
                            AND s.product_id = sales_summary.product_id
                            AND s.order_month = sales_summary.order_month)
                """, months)
                session.execute("DROP TABLE sales_summary_staging")
            logger.info("Summary data loaded: %d rows upserted for %s (%d removed)",
                        upserted, ", ".join(months), vanished)
            return {"summary_loaded": upserted, "order_months": months}

        load_detail = PythonOperator(
            task_id="load_detail",
            python_callable=load_detail_data,
        )

        load_summary = PythonOperator(
            task_id="load_summary",
            python_callable=load_summary_data,
        )

        # The summary is computed from the loaded detail rows.
        load_detail >> load_summary

    def validate_loaded_data(**context):
        """Check the warehouse holds exactly the transformed rows, none missing a key."""
        transform_result = context["ti"].xcom_pull(task_ids="transform_sales_data")
        expected_count = transform_result["detail_count"]
        data_interval_start = context["data_interval_start"]
        data_interval_end = context["data_interval_end"]
        period = f"{data_interval_start} to {data_interval_end}"
        if not PipelineConfig.ENABLE_DATA_QUALITY_CHECKS:
            logger.warning("Data quality checks are disabled (ENABLE_DQ_CHECKS=false)")
            return {"validation": "disabled"}

        warehouse = Database.for_connection(WAREHOUSE_CONN_ID)
        actual_count, null_customers, null_products = warehouse.first(
            """
            SELECT COUNT(*), COUNT(*) - COUNT(customer_id), COUNT(*) - COUNT(product_id)
            FROM sales_fact
            WHERE order_date >= %s AND order_date < %s
            """,
            (data_interval_start, data_interval_end),
        )
        logger.info("Validation: Expected %d, found %d", expected_count, actual_count)
        check_row_count("sales_fact", period, expected_count, actual_count)
        check_no_nulls("sales_fact", period,
                       {"customer_id": null_customers, "product_id": null_products})

        logger.info("All data quality checks passed")
        return {"validation": "passed", "record_count": actual_count}

    validate = PythonOperator(
        task_id="validate_data",
        python_callable=validate_loaded_data,
    )

    def cleanup_temp_files(**context):
        """Remove the run's folder of intermediate files, whatever happened before."""
        removed = remove_run_folder(context["dag"].dag_id, context["run_id"])
        for name in removed:
            logger.info("Removed temporary file: %s", name)
        return {"removed": removed}

    cleanup = PythonOperator(
        task_id="cleanup",
        python_callable=cleanup_temp_files,
        trigger_rule="all_done",  # run regardless of upstream success or failure
    )

    end = EmptyOperator(task_id="end")

    start >> extract >> transform >> load_group >> validate >> cleanup >> end
    validate >> end  # a failed validation fails the run, though the cleanup succeeds
