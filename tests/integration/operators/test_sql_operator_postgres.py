"""SQLExecuteQueryOperator inside dag.test() on PostgreSQL: the article's idempotent loads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from millstream import DAG
from millstream.hooks.postgres import PostgresHook
from millstream.operators.sql import SQLExecuteQueryOperator
from tests.integration.hooks.pg import postgres_schema_uri

pytestmark = pytest.mark.postgres
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def postgres_conn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Connection ``warehouse_db``: a PostgreSQL schema of this test; yields its name."""
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    with postgres_schema_uri("sqlop") as (uri, schema):
        monkeypatch.setenv("MILLSTREAM_CONN_WAREHOUSE_DB", uri)
        yield schema

SETUP = """
CREATE TABLE staging_sales (order_id int, customer_id int, amount numeric(10, 2),
                            order_date timestamptz);
CREATE TABLE fact_sales (LIKE staging_sales);
CREATE TABLE staging_customers (customer_id int, name text, email text);
CREATE TABLE dim_customers (customer_id int PRIMARY KEY, name text, email text,
                            updated_at timestamptz);
INSERT INTO staging_sales VALUES
    (1, 10, 5.25, '2026-01-05 01:00+00'), (2, 11, 7.00, '2026-01-05 23:00+00'),
    (3, 10, 9.99, '2026-01-06 00:00+00');
INSERT INTO staging_customers VALUES (10, 'Ann', 'ann@example.com'),
                                     (11, 'Bob', 'bob@example.com');
"""


def _idempotent_dag(sql_folder: Path) -> DAG:
    with DAG("idempotent_etl_example", start_date=START, schedule="0 6 * * *",
             template_searchpath=[str(sql_folder)]) as dag:
        load = SQLExecuteQueryOperator(
            task_id="idempotent_load", conn_id="warehouse_db",
            sql=["DELETE FROM fact_sales WHERE order_date >= %(start)s "
                 "AND order_date < %(end)s",
                 "INSERT INTO fact_sales SELECT * FROM staging_sales "
                 "WHERE order_date >= %(start)s AND order_date < %(end)s"],
            parameters={"start": "{{ data_interval_start }}", "end": "{{ data_interval_end }}"},
        )
        upsert = SQLExecuteQueryOperator(task_id="idempotent_upsert", conn_id="warehouse_db",
                                         sql="upsert_customers.sql")
        report = SQLExecuteQueryOperator(
            task_id="report", conn_id="warehouse_db",
            sql="SELECT count(*), sum(amount), max(order_date) FROM fact_sales")
        load >> upsert >> report
    return dag


def test_delete_insert_and_upsert_rerun_to_the_same_tables(postgres_conn: str,
                                                           tmp_path: Path) -> None:
    PostgresHook("warehouse_db").run(SETUP)
    (tmp_path / "upsert_customers.sql").write_text(
        "-- the article's UPSERT, for the run of {{ ds }}\n"
        "INSERT INTO dim_customers (customer_id, name, email, updated_at)\n"
        "SELECT customer_id, name, email, NOW() FROM staging_customers\n"
        "ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name,\n"
        "    email = EXCLUDED.email, updated_at = NOW()\n"
    )
    dag = _idempotent_dag(tmp_path)
    for _ in range(2):
        result = dag.test(logical_date="2026-01-05T06:00:00+00:00")
        assert result.succeeded, result.tasks
        # interval 2026-01-05 06:00 to 2026-01-06 06:00: orders 2 and 3
        assert result.xcom_pull("report") == [[2, 16.99, "2026-01-06T00:00:00+00:00"]]
    hook = PostgresHook("warehouse_db")
    assert hook.get_records("SELECT customer_id, name FROM dim_customers ORDER BY 1") == [
        (10, "Ann"), (11, "Bob")]
    hook.run("UPDATE staging_customers SET name = 'Ann B' WHERE customer_id = 10")
    assert dag.test(logical_date="2026-01-05T06:00:00+00:00").succeeded
    assert hook.get_first("SELECT name FROM dim_customers WHERE customer_id = 10") == ("Ann B",)


def test_postgres_values_are_pushed_as_json(postgres_conn: str) -> None:
    with DAG("sql_pg_types", start_date=START, schedule=None) as dag:
        SQLExecuteQueryOperator(
            task_id="q", conn_id="warehouse_db",
            sql="SELECT 12.50::numeric, 3::numeric, DATE '2026-01-05', "
                "'{\"a\": [1, 2]}'::jsonb, '00000000-0000-0000-0000-00000000002a'::uuid, "
                "interval '90 seconds', current_schema() = %s",
            parameters=(postgres_conn,),
            show_return_value_in_logs=True,
        )
    result = dag.test(logical_date="2026-01-05")
    assert result.succeeded, result.tasks
    assert result.xcom_pull("q") == [[12.5, 3, "2026-01-05", {"a": [1, 2]},
                                      "00000000-0000-0000-0000-00000000002a", 90.0, True]]


def test_autocommit_runs_statements_that_cannot_run_in_a_transaction(postgres_conn: str) -> None:
    PostgresHook("warehouse_db").run("CREATE TABLE t (id int)")
    with DAG("sql_pg_autocommit", start_date=START, schedule=None) as dag:
        SQLExecuteQueryOperator(task_id="vacuum", conn_id="warehouse_db", autocommit=True,
                                sql="VACUUM t")
        SQLExecuteQueryOperator(task_id="in_transaction", conn_id="warehouse_db",
                                sql="VACUUM t")
    result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"vacuum": "success", "in_transaction": "failed"}
    errors = {task.label: task.error or "" for task in result.tasks}
    assert "VACUUM cannot run inside a transaction block" in errors["in_transaction"]
