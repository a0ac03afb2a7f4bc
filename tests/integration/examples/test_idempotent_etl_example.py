"""idempotent_etl_example: re-running a day leaves the warehouse as one run left it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from millstream.store.memory import MemoryStore
from tests.integration.examples.conftest import SalesDatabases, load_example

DAG_ID = "idempotent_etl_example"
LOGICAL_DATE = "2026-03-10T06:00:00+00:00"
START = datetime(2026, 3, 10, 6, tzinfo=UTC)
END = START + timedelta(days=1)


def stage(databases: SalesDatabases, orders: int, customers: int) -> None:
    """What the upstream job does: land orders of the interval and around it, and customers."""
    warehouse = databases.warehouse
    for number in range(orders):
        warehouse.execute(
            "INSERT INTO staging_sales VALUES (%s, %s, %s, %s)",
            (number + 1, number % customers + 1, 10 + number, START + timedelta(minutes=number)))
    warehouse.execute(  # outside the interval: never loaded by this run
        "INSERT INTO staging_sales VALUES (%s, 1, 99, %s)", (orders + 1, END))
    for customer in range(1, customers + 1):
        warehouse.execute("INSERT INTO staging_customers VALUES (%s, %s, %s)",
                          (customer, f"Customer {customer}", f"c{customer}@example.com"))


def test_reruns_replace_facts_and_upsert_customers(sales_databases: SalesDatabases) -> None:
    dag = load_example(DAG_ID)
    empty = dag.test(logical_date=LOGICAL_DATE)  # a real warehouse is never staged by us
    assert empty.state == "success", empty.tasks
    assert empty.xcom_pull("prepare_staging") == {"staged_orders": 0}
    assert empty.xcom_pull("idempotent_load") == {
        "status": "loaded", "deleted": 0, "inserted": 0}
    stage(sales_databases, orders=50, customers=8)
    warehouse = sales_databases.warehouse

    first = dag.test(logical_date=LOGICAL_DATE)
    assert first.state == "success", first.tasks
    facts = warehouse.all("SELECT * FROM fact_sales ORDER BY order_id")
    customers = warehouse.all("SELECT customer_id, name, email FROM dim_customers ORDER BY 1")
    first_update = warehouse.one("SELECT MAX(updated_at) FROM dim_customers")

    second = dag.test(logical_date=LOGICAL_DATE)

    assert second.state == "success", second.tasks
    assert second.xcom_pull("idempotent_load") == {
        "status": "loaded", "deleted": 50, "inserted": 50}
    assert second.xcom_pull("idempotent_upsert") == {"status": "upserted", "upserted": 8}
    assert warehouse.all("SELECT * FROM fact_sales ORDER BY order_id") == facts
    assert len(facts) == 50 and facts[0][:3] == (1, 1, 10)
    assert warehouse.all(
        "SELECT customer_id, name, email FROM dim_customers ORDER BY 1") == customers
    assert len(customers) == 8
    assert warehouse.one("SELECT MIN(updated_at) FROM dim_customers") >= first_update

    # A customer changes e-mail and a new one appears upstream: updated and inserted.
    warehouse.execute("UPDATE staging_customers SET email = 'new@example.com' "
                      "WHERE customer_id = 3")
    warehouse.execute("INSERT INTO staging_customers VALUES (9, 'Customer 9', 'c9@example.com')")
    third = dag.test(logical_date=LOGICAL_DATE)
    assert third.state == "success", third.tasks
    assert warehouse.one("SELECT email FROM dim_customers WHERE customer_id = 3") == \
        "new@example.com"
    assert warehouse.one("SELECT COUNT(*) FROM dim_customers") == 9
    assert warehouse.one("SELECT COUNT(*) FROM fact_sales") == 50


def test_without_a_connection_it_stages_generated_data_in_sqlite(
    home: Path, memory_store: MemoryStore,
) -> None:
    dag = load_example(DAG_ID)
    first = dag.test(logical_date=LOGICAL_DATE)
    second = dag.test(logical_date=LOGICAL_DATE)

    assert first.state == second.state == "success"
    assert first.xcom_pull("prepare_staging") == {"staged_orders": 2000}
    assert second.xcom_pull("prepare_staging") == {"staged_orders": 2000}  # not staged twice
    assert second.xcom_pull("idempotent_load") == {
        "status": "loaded", "deleted": 2000, "inserted": 2000}
    with sqlite3.connect(home / "example_data" / "warehouse_db.sqlite") as warehouse:
        assert warehouse.execute("SELECT COUNT(*) FROM fact_sales").fetchone() == (2000,)
        customers = warehouse.execute("SELECT COUNT(*) FROM staging_customers").fetchone()
        assert warehouse.execute("SELECT COUNT(*) FROM dim_customers").fetchone() == customers
