"""etl_sales_pipeline on real data: its tasks one by one, whole runs, re-runs, the SQLite stand-ins.

The article's ``TestTaskLogic`` mocked the database hook; here the extract reads a real
PostgreSQL source filled with generated orders, and the transform works on that extract.
"""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from millstream.store.memory import MemoryStore
from tests.integration.examples.conftest import (
    SalesDatabases,
    example_module,
    load_example,
)

DAG_ID = "etl_sales_pipeline"
LOGICAL_DATE = "2026-03-10T06:00:00+00:00"
START = datetime(2026, 3, 10, 6, tzinfo=UTC)  # the data interval of LOGICAL_DATE
END = START + timedelta(days=1)
RUN_ID = "manual__2026-03-10T06:00:00+00:00"


def context_for(module: Any) -> dict[str, Any]:
    return {
        "data_interval_start": START,
        "data_interval_end": END,
        "ds": "2026-03-10",
        "run_id": RUN_ID,
        "dag": module.dag,
    }


def read_csv(path: str | Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


Groups = dict[tuple[str, int, str], tuple[int, int, Decimal]]


def fact_aggregates(databases: SalesDatabases) -> Groups:
    rows = databases.warehouse.all(
        "SELECT region, product_id, order_month, COUNT(*), SUM(quantity), SUM(total_amount) "
        "FROM sales_fact GROUP BY region, product_id, order_month")
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


def summary_rows(databases: SalesDatabases) -> Groups:
    rows = databases.warehouse.all(
        "SELECT region, product_id, order_month, order_count, total_quantity, total_revenue "
        "FROM sales_summary")
    return {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}


# -- the article's TestTaskLogic, on real data -----------------------------------------------
def test_extract_returns_expected_structure(sales_databases: SalesDatabases, home: Path) -> None:
    sales_databases.generate_orders(START, END, 100, first_order_id=1)
    sales_databases.generate_orders(START - timedelta(days=1), START, 7, first_order_id=1000)
    sales_databases.generate_orders(END, END + timedelta(hours=1), 5, first_order_id=2000)
    etl = example_module(DAG_ID)

    result = etl.extract_sales_data(**context_for(etl))

    assert result["record_count"] == 100
    output = Path(result["output_path"])
    assert output.parent == home / "work" / DAG_ID / "manual__2026-03-10T06%3A00%3A00%2B00%3A00"
    rows = read_csv(output)
    assert sorted(int(r[0]) for r in rows) == list(range(1, 101))
    expected = sales_databases.source.all(
        "SELECT order_id, customer_id, product_id, quantity, unit_price, "
        "to_char(order_date, 'YYYY-MM-DD HH24:MI:SS'), region FROM sales_orders "
        "WHERE order_id <= 100 ORDER BY order_id")
    got = sorted(rows, key=lambda r: int(r[0]))
    assert [[str(v) for v in row] for row in expected] == got
    assert (result["data_interval_start"], result["data_interval_end"]) == (str(START), str(END))


def test_transform_cleans_and_totals_the_extracted_orders(
    sales_databases: SalesDatabases,
) -> None:
    sales_databases.generate_orders(START, END, 500, invalid_share=0.2)
    etl = example_module(DAG_ID)
    extracted = etl.extract_sales_data(**context_for(etl))
    source_rows = read_csv(extracted["output_path"])
    valid = [r for r in source_rows if int(r[3]) > 0 and Decimal(r[4]) > 0]
    assert 0 < len(valid) < 500  # the generator made some invalid orders

    detail_path = Path(extracted["output_path"]).with_name("detail.csv")
    result = etl.transform_orders(Path(extracted["output_path"]), detail_path)

    assert result == {
        "detail_path": str(detail_path),
        "detail_count": len(valid),
        "removed_count": 500 - len(valid),
        "order_months": ["2026-03"],
    }
    detail = read_csv(detail_path)
    assert [r[0] for r in detail] == [r[0] for r in valid]
    for row, original in zip(detail, valid, strict=True):
        order_id, customer, product, quantity, price, total, order_date, month, region = row
        assert [order_id, customer, product, quantity, price, order_date, region] == original
        assert Decimal(total) == int(quantity) * Decimal(price)
        assert month == order_date[:7] == "2026-03"


def test_transform_handles_empty_data(tmp_path: Path) -> None:
    etl = example_module(DAG_ID)
    empty = tmp_path / "sales_extract.csv"
    empty.write_text("")

    result = etl.transform_orders(empty, tmp_path / "detail.csv")

    assert result["detail_count"] == result["removed_count"] == 0
    assert result["order_months"] == []
    assert (tmp_path / "detail.csv").read_text() == ""


# -- whole runs on PostgreSQL ------------------------------------------------------------------
def test_a_run_loads_the_interval_into_the_warehouse(
    sales_databases: SalesDatabases, home: Path,
) -> None:
    sales_databases.generate_orders(START, END, 3000, invalid_share=0.02)
    sales_databases.generate_orders(END, END + timedelta(days=1), 300, first_order_id=10_000)
    dag = load_example(DAG_ID)

    result = dag.test(logical_date=LOGICAL_DATE)

    assert result.state == "success", result.tasks
    assert set(result.task_states.values()) == {"success"}
    valid = sales_databases.source.one(
        "SELECT COUNT(*) FROM sales_orders WHERE order_date >= %s AND order_date < %s "
        "AND quantity > 0 AND unit_price > 0", (START, END))
    assert result.xcom_pull("extract_sales_data")["record_count"] == 3000
    transformed = result.xcom_pull("transform_sales_data")
    assert (transformed["detail_count"], transformed["removed_count"]) == (valid, 3000 - valid)
    assert result.xcom_pull("load_tasks.load_detail") == {
        "detail_loaded": valid, "detail_replaced": 0}
    assert result.xcom_pull("validate_data") == {"validation": "passed", "record_count": valid}

    # The fact table holds exactly the interval's valid orders, with their totals.
    assert sales_databases.warehouse.one("SELECT COUNT(*) FROM sales_fact") == valid
    mismatched = sales_databases.warehouse.one(
        "SELECT COUNT(*) FROM sales_fact WHERE total_amount <> quantity * unit_price "
        "OR order_month <> to_char(order_date, 'YYYY-MM')")
    assert mismatched == 0
    # The summary is the fact table aggregated by region, product and month.
    assert summary_rows(sales_databases) == fact_aggregates(sales_databases)

    # The intermediate files lived in the run's folder under the home, and are gone.
    output = Path(result.xcom_pull("extract_sales_data")["output_path"])
    assert output.is_relative_to(home / "work" / DAG_ID)
    assert result.xcom_pull("cleanup") == {
        "removed": ["sales_extract.csv", "sales_transformed.csv"]}
    assert not output.parent.exists()
    assert not (home / "work" / DAG_ID).exists()


def test_a_rerun_replaces_the_facts_and_upserts_the_summary(
    sales_databases: SalesDatabases,
) -> None:
    sales_databases.generate_orders(START, END, 2000, invalid_share=0.0)
    dag = load_example(DAG_ID)
    first = dag.test(logical_date=LOGICAL_DATE)
    assert first.state == "success", first.tasks
    facts_before = sales_databases.warehouse.all("SELECT * FROM sales_fact ORDER BY order_id")
    summary_before = summary_rows(sales_databases)

    second = dag.test(logical_date=LOGICAL_DATE)

    assert second.state == "success", second.tasks
    assert second.xcom_pull("load_tasks.load_detail") == {
        "detail_loaded": 2000, "detail_replaced": 2000}
    assert sales_databases.warehouse.all("SELECT * FROM sales_fact ORDER BY order_id") == \
        facts_before
    assert summary_rows(sales_databases) == summary_before

    # The source changes: one order's quantity, and one region-product pair vanishes.
    changed_id, changed_region, changed_product = sales_databases.source.one(
        "SELECT order_id, region, product_id FROM sales_orders ORDER BY order_id LIMIT 1")
    sales_databases.source.execute(
        "UPDATE sales_orders SET quantity = quantity + 5 WHERE order_id = %s", (changed_id,))
    gone_region, gone_product = sales_databases.source.one(
        "SELECT region, product_id FROM sales_orders WHERE NOT (region = %s AND product_id = %s) "
        "ORDER BY order_id DESC LIMIT 1", (changed_region, changed_product))
    sales_databases.source.execute(
        "DELETE FROM sales_orders WHERE region = %s AND product_id = %s",
        (gone_region, gone_product))
    removed = 2000 - sales_databases.source.one("SELECT COUNT(*) FROM sales_orders")
    # A summary row of a month this run does not touch must survive it.
    sales_databases.warehouse.execute(
        "INSERT INTO sales_summary VALUES ('north', 1, '2025-06', 3, 4, 5.00, now())")

    third = dag.test(logical_date=LOGICAL_DATE)

    assert third.state == "success", third.tasks
    assert sales_databases.warehouse.one("SELECT COUNT(*) FROM sales_fact") == 2000 - removed
    summary = summary_rows(sales_databases)
    assert (gone_region, gone_product, "2026-03") not in summary
    assert summary[("north", 1, "2025-06")] == (3, 4, Decimal("5.00"))
    del summary[("north", 1, "2025-06")]
    assert summary == fact_aggregates(sales_databases)
    key = (changed_region, changed_product, "2026-03")
    assert summary[key][1] == summary_before[key][1] + 5
    assert len(summary) == len(summary_before) - 1


# -- the SQLite stand-ins ----------------------------------------------------------------------
def test_without_connections_the_pipeline_runs_on_generated_sqlite_data(
    home: Path, memory_store: MemoryStore,
) -> None:
    dag = load_example(DAG_ID)

    first = dag.test(logical_date=LOGICAL_DATE)

    assert first.state == "success", first.tasks
    source_file = home / "example_data" / "sales_db.sqlite"
    warehouse_file = home / "example_data" / "warehouse_db.sqlite"
    with sqlite3.connect(source_file) as source:
        # Both UTC days the interval touches were filled, 2000 orders each (the settings).
        per_day = source.execute(
            "SELECT substr(order_date, 1, 10), COUNT(*) FROM sales_orders GROUP BY 1"
        ).fetchall()
        in_interval, valid = source.execute(
            "SELECT COUNT(*), SUM(quantity > 0 AND unit_price > 0) FROM sales_orders "
            "WHERE order_date >= '2026-03-10 06:00:00' AND order_date < '2026-03-11 06:00:00'"
        ).fetchone()
    assert per_day == [("2026-03-10", 2000), ("2026-03-11", 2000)]
    assert first.xcom_pull("extract_sales_data")["record_count"] == in_interval
    assert first.xcom_pull("validate_data") == {"validation": "passed", "record_count": valid}

    second = dag.test(logical_date=LOGICAL_DATE)

    assert second.state == "success", second.tasks
    assert second.xcom_pull("extract_sales_data")["record_count"] == in_interval
    with sqlite3.connect(warehouse_file) as warehouse:
        assert warehouse.execute("SELECT COUNT(*) FROM sales_fact").fetchone() == (valid,)
        summed = warehouse.execute("SELECT SUM(order_count) FROM sales_summary").fetchone()
    assert summed == (valid,)
    with sqlite3.connect(source_file) as source:
        assert source.execute("SELECT COUNT(*) FROM sales_orders").fetchone() == (4000,)
    assert not (home / "work" / DAG_ID).exists()


@pytest.mark.parametrize("conn_id", ["sales_db", "warehouse_db"])
def test_a_defined_sqlite_connection_is_used_as_it_is(
    conn_id: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    memory_store: MemoryStore,
) -> None:
    elsewhere = tmp_path / f"{conn_id}.db"
    monkeypatch.setenv(f"MILLSTREAM_CONN_{conn_id.upper()}", f"sqlite:///{elsewhere}")
    dag = load_example(DAG_ID)

    result = dag.test(logical_date=LOGICAL_DATE, fast_retries=True)

    assert not (home / "example_data" / f"{conn_id}.sqlite").exists()
    if conn_id == "sales_db":
        # A real source is only read, never filled: its missing table is the error.
        assert result.state == "failed"
        assert result.task_states["extract_sales_data"] == "failed"
        error = next(t.error for t in result.tasks if t.label == "extract_sales_data")
        assert "no such table: sales_orders" in error and "'sales_db'" in error
        assert result.task_states["cleanup"] == "success"
    else:
        assert result.state == "success", result.tasks
        with sqlite3.connect(elsewhere) as warehouse:
            count = warehouse.execute("SELECT COUNT(*) FROM sales_fact").fetchone()[0]
        assert count == result.xcom_pull("validate_data")["record_count"] > 0


def test_transform_drops_orders_without_a_usable_quantity_or_price(tmp_path: Path) -> None:
    etl = example_module(DAG_ID)
    extract = tmp_path / "sales_extract.csv"
    good = ["1", "7", "3", "2", "19.99", "2026-03-10 07:00:00", "north"]
    bad_values = [("", "19.99"), ("2", ""), ("-1", "19.99"), ("2", "-5.00"), ("two", "1.00"),
                  ("2", "NaN"), ("2", "Infinity"), ("0", "1.00"), ("2", "0.00")]
    with extract.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(good)
        for number, (quantity, price) in enumerate(bad_values, start=2):
            writer.writerow([str(number), "7", "3", quantity, price,
                             "2026-03-10 07:00:00", "north"])

    result = etl.transform_orders(extract, tmp_path / "detail.csv")

    assert (result["detail_count"], result["removed_count"]) == (1, len(bad_values))
    assert read_csv(tmp_path / "detail.csv") == [
        ["1", "7", "3", "2", "19.99", "39.98", "2026-03-10 07:00:00", "2026-03", "north"]]
