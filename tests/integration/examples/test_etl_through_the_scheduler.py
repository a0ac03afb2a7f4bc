"""etl_sales_pipeline through the real processes: ``millstream scheduler`` on PostgreSQL, and
``millstream standalone`` on a fresh home, where it runs on its generated SQLite data."""

from __future__ import annotations

import shutil
import signal
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import DagRunRecord
from millstream.store.sql.migrate import migrate
from tests.integration.engine.engine_helpers import Home, wait_for
from tests.integration.examples.conftest import EXAMPLES, SalesDatabases
from tests.integration.hooks.pg import postgres_schema_uri

DAG_ID = "etl_sales_pipeline"
TASKS = {"start", "extract_sales_data", "transform_sales_data", "load_tasks.load_detail",
         "load_tasks.load_summary", "validate_data", "cleanup", "end"}


def make_home(tmp_path: Path, url: str) -> Iterator[Home]:
    path = tmp_path / "millstream-home"
    (path / "dags").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    home = Home(path, url, scratch)
    try:
        yield home
    finally:
        home.close()


@pytest.fixture
def postgres_home(tmp_path: Path) -> Iterator[Home]:
    """A home whose metadata database is a PostgreSQL schema of its own."""
    with postgres_schema_uri("etl_engine") as (url, _schema):
        migrate(url)
        yield from make_home(tmp_path, url)


@pytest.fixture
def fresh_home(tmp_path: Path) -> Iterator[Home]:
    """A home with nothing in it: standalone creates its SQLite database."""
    yield from make_home(tmp_path, f"sqlite:///{tmp_path / 'millstream-home' / 'millstream.db'}")


def succeeded(home: Home) -> DagRunRecord | None:
    return next((r for r in home.runs(DAG_ID) if r.state is DagRunState.SUCCESS), None)


def test_the_scheduler_runs_the_etl_on_postgresql(
    postgres_home: Home, sales_databases: SalesDatabases,
) -> None:
    home = postgres_home
    # The DAG file with its helpers and settings, as a user deploys it.
    shutil.copy(EXAMPLES / f"{DAG_ID}.py", home.dags)
    shutil.copytree(EXAMPLES / "common", home.dags / "common")
    shutil.copytree(EXAMPLES / "config", home.dags / "config")
    home.settings_env["MILLSTREAM_CONN_SALES_DB"] = sales_databases.source.uri
    home.settings_env["MILLSTREAM_CONN_WAREHOUSE_DB"] = sales_databases.warehouse.uri
    # Orders over the last three days: the scheduled run's interval is among them.
    now = datetime.now(UTC).replace(microsecond=0)
    sales_databases.generate_orders(now - timedelta(days=3), now, 3000, invalid_share=0.02)

    scheduler = home.start("scheduler")
    run = wait_for(lambda: succeeded(home), 120, "a run of the ETL to succeed",
                   lambda: home.describe(DAG_ID) + "\n" + scheduler.tail())

    instances = home.instances(DAG_ID, run.run_id)
    assert set(instances) == TASKS
    assert {ti.state for ti in instances.values()} == {TaskState.SUCCESS}
    assert {ti.try_number for ti in instances.values()} == {1}
    start, end = run.data_interval_start, run.data_interval_end
    valid = sales_databases.source.one(
        "SELECT COUNT(*) FROM sales_orders WHERE order_date >= %s AND order_date < %s "
        "AND quantity > 0 AND unit_price > 0", (start, end))
    assert valid > 0
    assert sales_databases.warehouse.one(
        "SELECT COUNT(*) FROM sales_fact WHERE order_date >= %s AND order_date < %s",
        (start, end)) == valid
    assert sales_databases.warehouse.one("SELECT SUM(order_count) FROM sales_summary") == \
        sales_databases.warehouse.one("SELECT COUNT(*) FROM sales_fact")
    assert not (home.path / "work" / DAG_ID).exists()


def test_standalone_on_a_fresh_home_runs_the_etl_on_generated_data(fresh_home: Home) -> None:
    home = fresh_home
    home.settings_env.pop("MILLSTREAM__DATABASE__URL", None)  # standalone's own default
    proc = home.start("standalone")
    wait_for(lambda: "scheduler running" in proc.output(), 60, "standalone to start", proc.tail)

    run = wait_for(lambda: succeeded(home), 120, "the ETL's scheduled run to succeed",
                   lambda: home.describe(DAG_ID) + "\n" + proc.tail())

    assert run.run_type == "scheduled"
    states = {ti.state for ti in home.instances(DAG_ID, run.run_id).values()}
    assert states == {TaskState.SUCCESS}
    data = home.path / "example_data"
    with sqlite3.connect(data / "sales_db.sqlite") as source:
        (valid,) = source.execute(
            "SELECT COUNT(*) FROM sales_orders WHERE order_date >= ? AND order_date < ? "
            "AND quantity > 0 AND unit_price > 0",
            (f"{run.data_interval_start:%Y-%m-%d %H:%M:%S}",
             f"{run.data_interval_end:%Y-%m-%d %H:%M:%S}"),
        ).fetchone()
    with sqlite3.connect(data / "warehouse_db.sqlite") as warehouse:
        assert warehouse.execute("SELECT COUNT(*) FROM sales_fact").fetchone() == (valid,)
    assert valid > 0
    assert not (home.path / "work" / DAG_ID).exists()

    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=30) == 0, proc.tail()
