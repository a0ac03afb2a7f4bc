# From the orchestration guide (dags/etl_pipeline.py), unedited.
# dags/etl_pipeline.py
# This DAG implements a complete ETL pipeline for sales data processing.
# It extracts data from a PostgreSQL database, transforms it using pandas,
# and loads the results into a data warehouse.

from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.operators.empty import EmptyOperator
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.utils.task_group import TaskGroup
import logging

# Configure logging for better observability
logger = logging.getLogger(__name__)

# Default arguments applied to all tasks in the DAG
# These settings ensure consistent behavior and proper error handling
default_args = {
    'owner': 'data-engineering',
    'depends_on_past': False,
    'email': ['data-alerts@company.com'],
    'email_on_failure': True,
    'email_on_retry': False,
    'retries': 3,
    'retry_delay': timedelta(minutes=5),
    'retry_exponential_backoff': True,
    'max_retry_delay': timedelta(minutes=30),
}

# DAG definition with comprehensive configuration
# The context manager ensures proper resource cleanup
with DAG(
    dag_id='etl_sales_pipeline',
    default_args=default_args,
    description='Daily ETL pipeline for sales data processing',
    schedule_interval='0 6 * * *',  # Run daily at 6 AM UTC
    start_date=datetime(2026, 1, 1),
    catchup=False,  # Disable backfilling on initial deployment
    tags=['etl', 'sales', 'production', 'critical'],
    max_active_runs=1,  # Prevent overlapping runs
    dagrun_timeout=timedelta(hours=4),  # Fail if run exceeds 4 hours
    doc_md="""
    ## Sales ETL Pipeline

    This pipeline processes daily sales data through three stages:
    1. **Extract**: Pull raw data from source PostgreSQL database
    2. **Transform**: Clean, validate, and aggregate the data
    3. **Load**: Insert processed data into the data warehouse

    ### Dependencies
    - Source: `sales_db` PostgreSQL connection
    - Target: `warehouse_db` PostgreSQL connection

    ### Alerts
    Failures trigger alerts to data-alerts@company.com
    """,
) as dag:

    # Start marker for DAG visualization
    start = EmptyOperator(task_id='start')

    # Extract phase: Pull data from source systems
    # Using a function that handles connection management and error handling
    def extract_sales_data(**context):
        """
        Extract sales data from the source database for the given execution date.
        Uses parameterized queries to prevent SQL injection.
        """
        # Get the data interval for this run
        data_interval_start = context['data_interval_start']
        data_interval_end = context['data_interval_end']

        logger.info(f"Extracting sales data from {data_interval_start} to {data_interval_end}")

        # Use PostgresHook for connection management
        pg_hook = PostgresHook(postgres_conn_id='sales_db')

        # Parameterized query for safety
        query = """
            SELECT
                order_id,
                customer_id,
                product_id,
                quantity,
                unit_price,
                order_date,
                region
            FROM sales_orders
            WHERE order_date >= %s AND order_date < %s
        """

        # Execute query and get results as DataFrame
        df = pg_hook.get_pandas_df(
            sql=query,
            parameters=(data_interval_start, data_interval_end)
        )

        record_count = len(df)
        logger.info(f"Extracted {record_count} records")

        # Save to intermediate storage
        output_path = f"/tmp/sales_extract_{context['ds']}.parquet"
        df.to_parquet(output_path, index=False)

        # Return metadata via XCom (not the data itself)
        return {
            'record_count': record_count,
            'output_path': output_path,
            'data_interval_start': str(data_interval_start),
            'data_interval_end': str(data_interval_end),
        }

    extract = PythonOperator(
        task_id='extract_sales_data',
        python_callable=extract_sales_data,
    )

    # Transform phase: Clean and aggregate data
    # This function demonstrates data validation and transformation patterns
    def transform_sales_data(**context):
        """
        Transform extracted sales data by cleaning, validating, and aggregating.
        Applies business rules and creates derived metrics.
        """
        import pandas as pd

        # Pull metadata from extract task
        ti = context['ti']
        extract_result = ti.xcom_pull(task_ids='extract_sales_data')

        input_path = extract_result['output_path']
        logger.info(f"Transforming data from {input_path}")

        # Load extracted data
        df = pd.read_parquet(input_path)
        initial_count = len(df)

        # Data cleaning: Remove invalid records
        # Filter out orders with invalid quantities or prices
        df = df[df['quantity'] > 0]
        df = df[df['unit_price'] > 0]

        # Calculate derived fields
        df['total_amount'] = df['quantity'] * df['unit_price']
        df['order_date'] = pd.to_datetime(df['order_date'])
        df['order_month'] = df['order_date'].dt.to_period('M').astype(str)

        # Aggregate by region and product for summary table
        summary_df = df.groupby(['region', 'product_id', 'order_month']).agg({
            'order_id': 'count',
            'quantity': 'sum',
            'total_amount': 'sum'
        }).reset_index()

        summary_df.columns = [
            'region', 'product_id', 'order_month',
            'order_count', 'total_quantity', 'total_revenue'
        ]

        cleaned_count = len(df)
        removed_count = initial_count - cleaned_count

        logger.info(f"Cleaned data: {cleaned_count} records ({removed_count} removed)")
        logger.info(f"Created summary with {len(summary_df)} aggregated records")

        # Save transformed data
        detail_path = f"/tmp/sales_transformed_{context['ds']}.parquet"
        summary_path = f"/tmp/sales_summary_{context['ds']}.parquet"

        df.to_parquet(detail_path, index=False)
        summary_df.to_parquet(summary_path, index=False)

        return {
            'detail_path': detail_path,
            'summary_path': summary_path,
            'detail_count': cleaned_count,
            'summary_count': len(summary_df),
            'removed_count': removed_count,
        }

    transform = PythonOperator(
        task_id='transform_sales_data',
        python_callable=transform_sales_data,
    )

    # Load phase: Insert data into the warehouse
    # Uses task groups to organize related loading tasks
    with TaskGroup(group_id='load_tasks') as load_group:

        def load_detail_data(**context):
            """
            Load transformed detail data into the warehouse fact table.
            Uses UPSERT pattern to handle reruns safely.
            """
            import pandas as pd

            ti = context['ti']
            transform_result = ti.xcom_pull(task_ids='transform_sales_data')

            detail_path = transform_result['detail_path']
            df = pd.read_parquet(detail_path)

            logger.info(f"Loading {len(df)} detail records to warehouse")

            # Use warehouse connection
            pg_hook = PostgresHook(postgres_conn_id='warehouse_db')

            # Delete existing data for this date range (idempotent)
            data_interval_start = context['data_interval_start']
            data_interval_end = context['data_interval_end']

            pg_hook.run(
                """
                DELETE FROM sales_fact
                WHERE order_date >= %s AND order_date < %s
                """,
                parameters=(data_interval_start, data_interval_end)
            )

            # Insert new data
            df.to_sql(
                'sales_fact',
                pg_hook.get_sqlalchemy_engine(),
                if_exists='append',
                index=False,
                method='multi',
                chunksize=1000
            )

            logger.info("Detail data loaded successfully")
            return {'detail_loaded': len(df)}

        def load_summary_data(**context):
            """
            Load aggregated summary data into the warehouse summary table.
            """
            import pandas as pd

            ti = context['ti']
            transform_result = ti.xcom_pull(task_ids='transform_sales_data')

            summary_path = transform_result['summary_path']
            df = pd.read_parquet(summary_path)

            logger.info(f"Loading {len(df)} summary records to warehouse")

            pg_hook = PostgresHook(postgres_conn_id='warehouse_db')

            # UPSERT using temporary table pattern
            df.to_sql(
                'sales_summary_staging',
                pg_hook.get_sqlalchemy_engine(),
                if_exists='replace',
                index=False
            )

            # Merge into main table
            pg_hook.run("""
                INSERT INTO sales_summary (region, product_id, order_month,
                                          order_count, total_quantity, total_revenue)
                SELECT region, product_id, order_month,
                       order_count, total_quantity, total_revenue
                FROM sales_summary_staging
                ON CONFLICT (region, product_id, order_month)
                DO UPDATE SET
                    order_count = EXCLUDED.order_count,
                    total_quantity = EXCLUDED.total_quantity,
                    total_revenue = EXCLUDED.total_revenue,
                    updated_at = NOW()
            """)

            # Clean up staging table
            pg_hook.run("DROP TABLE IF EXISTS sales_summary_staging")

            logger.info("Summary data loaded successfully")
            return {'summary_loaded': len(df)}

        load_detail = PythonOperator(
            task_id='load_detail',
            python_callable=load_detail_data,
        )

        load_summary = PythonOperator(
            task_id='load_summary',
            python_callable=load_summary_data,
        )

        # Detail and summary can load in parallel
        [load_detail, load_summary]

    # Data quality check after loading
    def validate_loaded_data(**context):
        """
        Validate that loaded data meets quality requirements.
        Raises an exception if validation fails.
        """
        from airflow.exceptions import AirflowException

        ti = context['ti']
        extract_result = ti.xcom_pull(task_ids='extract_sales_data')
        transform_result = ti.xcom_pull(task_ids='transform_sales_data')

        expected_count = transform_result['detail_count']

        pg_hook = PostgresHook(postgres_conn_id='warehouse_db')

        data_interval_start = context['data_interval_start']
        data_interval_end = context['data_interval_end']

        # Count records in warehouse for this date range
        result = pg_hook.get_first(
            """
            SELECT COUNT(*) FROM sales_fact
            WHERE order_date >= %s AND order_date < %s
            """,
            parameters=(data_interval_start, data_interval_end)
        )

        actual_count = result[0]

        logger.info(f"Validation: Expected {expected_count}, found {actual_count}")

        if actual_count != expected_count:
            raise AirflowException(
                f"Data validation failed: expected {expected_count} records, "
                f"but found {actual_count} in warehouse"
            )

        # Check for data quality issues
        null_check = pg_hook.get_first(
            """
            SELECT COUNT(*) FROM sales_fact
            WHERE order_date >= %s AND order_date < %s
            AND (customer_id IS NULL OR product_id IS NULL)
            """,
            parameters=(data_interval_start, data_interval_end)
        )

        if null_check[0] > 0:
            raise AirflowException(
                f"Data quality check failed: {null_check[0]} records have NULL values"
            )

        logger.info("All data quality checks passed")
        return {'validation': 'passed', 'record_count': actual_count}

    validate = PythonOperator(
        task_id='validate_data',
        python_callable=validate_loaded_data,
    )

    # Cleanup temporary files
    def cleanup_temp_files(**context):
        """
        Remove temporary files created during the pipeline run.
        Uses trigger_rule to run even if previous tasks fail.
        """
        import os

        ds = context['ds']
        temp_files = [
            f"/tmp/sales_extract_{ds}.parquet",
            f"/tmp/sales_transformed_{ds}.parquet",
            f"/tmp/sales_summary_{ds}.parquet",
        ]

        for file_path in temp_files:
            if os.path.exists(file_path):
                os.remove(file_path)
                logger.info(f"Removed temporary file: {file_path}")

    cleanup = PythonOperator(
        task_id='cleanup',
        python_callable=cleanup_temp_files,
        trigger_rule='all_done',  # Run regardless of upstream success/failure
    )

    # End marker
    end = EmptyOperator(task_id='end')

    # Define the pipeline flow
    start >> extract >> transform >> load_group >> validate >> cleanup >> end
