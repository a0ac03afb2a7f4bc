"""etl_sales_pipeline's checks: NULL keys or a count mismatch fail validate_data; no data passes.

These are the article's ``TestDataQuality`` cases, whose bodies it left empty, and its
empty-data case, run as whole pipelines on PostgreSQL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from millstream.testing import DagTestResult
from tests.integration.examples.conftest import SalesDatabases, load_example
from tests.integration.hooks.servers import SmtpInbox

DAG_ID = "etl_sales_pipeline"
LOGICAL_DATE = "2026-03-10T06:00:00+00:00"
START = datetime(2026, 3, 10, 6, tzinfo=UTC)
END = START + timedelta(days=1)
PERIOD = "2026-03-10 06:00:00+00:00 to 2026-03-11 06:00:00+00:00"


def error_of(result: DagTestResult, label: str) -> str:
    found = next(t for t in result.tasks if t.label == label)
    assert found.error is not None, f"{label} ended {found.state} without an error"
    return found.error


def assert_failed_at_validation(result: DagTestResult, home: Path) -> None:
    """validate_data failed once (no retries), the cleanup still ran, and the run failed."""
    assert result.state == "failed"
    states = result.task_states
    assert states["validate_data"] == "failed"
    assert next(t.tries for t in result.tasks if t.label == "validate_data") == 1
    for task_id in ("extract_sales_data", "transform_sales_data", "load_tasks.load_detail",
                    "load_tasks.load_summary", "cleanup"):
        assert states[task_id] == "success", (task_id, result.tasks)
    assert states["end"] == "upstream_failed"
    assert not (home / "work" / DAG_ID).exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpInbox]:
    """A real SMTP server on 127.0.0.1, set as millstream's mail server."""
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setenv("MILLSTREAM__SMTP__HOST", "127.0.0.1")
    monkeypatch.setenv("MILLSTREAM__SMTP__PORT", str(controller.port))
    monkeypatch.setenv("MILLSTREAM__SMTP__STARTTLS", "false")
    try:
        yield inbox
    finally:
        controller.stop()


def test_validation_catches_null_values(
    sales_databases: SalesDatabases, home: Path, smtp_inbox: SmtpInbox,
) -> None:
    sales_databases.generate_orders(START, END, 1000, invalid_share=0.0, null_key_share=0.05)
    null_customers, null_products = sales_databases.source.one(
        "SELECT COUNT(*) - COUNT(customer_id), COUNT(*) - COUNT(product_id) FROM sales_orders")
    assert null_customers > 0 and null_products > 0
    dag = load_example(DAG_ID)

    result = dag.test(logical_date=LOGICAL_DATE, fast_retries=True)

    assert_failed_at_validation(result, home)
    assert (
        f"DataQualityError: Data quality check failed: {null_customers + null_products} "
        f"records in sales_fact for {PERIOD} have NULL values in key columns "
        f"(customer_id: {null_customers}, product_id: {null_products})"
    ) in error_of(result, "validate_data")
    # The load itself went through: the rows are there for someone to look at.
    assert sales_databases.warehouse.one("SELECT COUNT(*) FROM sales_fact") == 1000
    # The summary only counts orders that have both keys.
    assert sales_databases.warehouse.one("SELECT SUM(order_count) FROM sales_summary") == \
        sales_databases.source.one(
            "SELECT COUNT(*) FROM sales_orders WHERE product_id IS NOT NULL")
    # email_on_failure: the article's default_args send the alert to data-alerts@company.com.
    assert [mail.rcpt_tos for mail in smtp_inbox.mails] == [["data-alerts@company.com"]]
    assert "validate_data" in smtp_inbox.mails[0].subject


def test_validation_catches_count_mismatch(
    sales_databases: SalesDatabases, home: Path,
) -> None:
    sales_databases.generate_orders(START, END, 1000, invalid_share=0.0)
    dag = load_example(DAG_ID)
    assert dag.test(logical_date=LOGICAL_DATE).state == "success"  # creates the tables
    # From now on the warehouse silently drops every tenth row it is given.
    sales_databases.warehouse.execute("""
        CREATE FUNCTION drop_some_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.order_id % 10 = 0 THEN RETURN NULL; END IF;
            RETURN NEW;
        END $$
    """)
    sales_databases.warehouse.execute(
        "CREATE TRIGGER drop_some_rows BEFORE INSERT ON sales_fact "
        "FOR EACH ROW EXECUTE FUNCTION drop_some_rows()")

    result = dag.test(logical_date=LOGICAL_DATE, fast_retries=True)

    assert_failed_at_validation(result, home)
    assert (
        f"DataQualityError: Data validation failed: expected 1000 records in sales_fact for "
        f"{PERIOD}, but found 900 in the warehouse"
    ) in error_of(result, "validate_data")
    assert sales_databases.warehouse.one("SELECT COUNT(*) FROM sales_fact") == 900


def test_an_interval_without_orders_loads_nothing_and_passes(
    sales_databases: SalesDatabases, home: Path,
) -> None:
    # Orders the day before and the day after, none in the run's interval.
    sales_databases.generate_orders(START - timedelta(days=1), START, 50, first_order_id=1)
    sales_databases.generate_orders(END, END + timedelta(days=1), 50, first_order_id=100)
    dag = load_example(DAG_ID)

    result = dag.test(logical_date=LOGICAL_DATE)

    assert result.state == "success", result.tasks
    assert set(result.task_states.values()) == {"success"}
    assert result.xcom_pull("extract_sales_data")["record_count"] == 0
    transformed = result.xcom_pull("transform_sales_data")
    assert (transformed["detail_count"], transformed["order_months"]) == (0, [])
    assert result.xcom_pull("load_tasks.load_detail") == {
        "detail_loaded": 0, "detail_replaced": 0}
    assert result.xcom_pull("load_tasks.load_summary") == {
        "summary_loaded": 0, "order_months": []}
    assert result.xcom_pull("validate_data") == {"validation": "passed", "record_count": 0}
    assert sales_databases.warehouse.one("SELECT COUNT(*) FROM sales_fact") == 0
    assert not (home / "work" / DAG_ID).exists()
