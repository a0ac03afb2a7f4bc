"""The orchestration guide's Airflow DAG files, unedited, loaded and run on millstream.

``dags test --airflow-compat`` runs them in a real CLI process; the runs that need more
than one DAG or a fixed random draw run in this process with ``dag.test()``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from millstream.compat import airflow as airflow_compat
from millstream.parsing import DagImportError, load_dag_file
from millstream.store.memory import MemoryStore
from millstream.testing import run_dag_test
from tests.integration.compat.conftest import (
    AIRFLOW_DAGS,
    ALL_DAG_FILES,
    LOADABLE_DAG_IDS,
    copy_article_dags,
)
from tests.integration.hooks.pg import postgres_schema_uri
from tests.integration.hooks.servers import RecordingHttpServer

LOGICAL_DATE = "2026-01-01"
SIX_AM = "2026-01-01T06:00:00+00:00"  # a logical date on the "0 6 * * *" schedules
BRANCHES = ("process_small_batch", "process_medium_batch", "process_large_batch")


def millstream_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
                   timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``millstream ARGS`` in a process of its own, as a user runs it."""
    environ = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    environ.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "millstream.cli.main", *args], cwd=cwd,
                          env=environ, capture_output=True, text=True, timeout=timeout)


def task_states(stdout: str) -> dict[str, str]:
    """The task -> state rows of the table ``dags test`` prints."""
    states = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 4 and cells[0] not in ("task", ""):
            states[cells[0]] = cells[1]
    return states


# -- loading ----------------------------------------------------------------------------------
def test_every_article_file_loads_as_it_does_in_airflow() -> None:
    airflow_compat.enable()
    found: dict[str, Any] = {}
    for name in ALL_DAG_FILES:
        if name == "parallel_processing_dag.py":
            continue
        found.update(load_dag_file(AIRFLOW_DAGS / name))
    assert set(found) == LOADABLE_DAG_IDS

    etl = found["etl_sales_pipeline"]
    assert etl.schedule_interval == "0 6 * * *" and etl.max_active_runs == 1
    assert set(etl.task_ids) == {
        "start", "extract_sales_data", "transform_sales_data", "load_tasks.load_detail",
        "load_tasks.load_summary", "validate_data", "cleanup", "end"}
    assert etl.get_task("validate_data").upstream_task_ids == {
        "load_tasks.load_detail", "load_tasks.load_summary"}
    extract = etl.get_task("extract_sales_data")
    assert (extract.retries, extract.retry_exponential_backoff, extract.owner) == (
        3, True, "data-engineering")
    assert etl.get_task("cleanup").trigger_rule == "all_done"
    robust = found["robust_error_handling_pipeline"]
    assert robust.get_task("extract_data").sla is not None
    assert robust.sla_miss_callback is not None
    sensor = found["event_driven_etl"].get_task("wait_for_api")
    assert (sensor.mode, sensor.poke_interval.total_seconds()) == ("poke", 30)


def test_the_parallel_dag_fails_to_import_as_it_does_in_airflow() -> None:
    # `[start] >> [a, b]` applies >> to two Python lists: a TypeError in Python itself.
    airflow_compat.enable()
    with pytest.raises(DagImportError) as caught:
        load_dag_file(AIRFLOW_DAGS / "parallel_processing_dag.py")
    assert caught.value.lineno == 90
    assert "unsupported operand type(s) for >>: 'list' and 'list'" in caught.value.summary


# -- dags test --airflow-compat -----------------------------------------------------------------
def test_conditional_pipeline_runs_with_dags_test(tmp_path: Path) -> None:
    dags = copy_article_dags(tmp_path / "dags", ["conditional_pipeline.py"])
    result = millstream_cli("dags", "test", "--airflow-compat",
                            str(dags / "conditional_pipeline.py"), "--logical-date", LOGICAL_DATE,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    states = task_states(result.stdout)
    assert [states[b] for b in BRANCHES].count("success") == 1
    assert [states[b] for b in BRANCHES].count("skipped") == 2
    for task_id in ("start", "assess_data_volume", "choose_processing_path", "join", "finalize"):
        assert states[task_id] == "success"
    assert ": success" in result.stdout.splitlines()[-1]


def test_the_flag_may_come_first_too(tmp_path: Path) -> None:
    dags = copy_article_dags(tmp_path / "dags", ["idempotent_tasks.py"])
    result = millstream_cli("--airflow-compat", "dags", "test", "idempotent_etl_example",
                            "--dags-folder", str(dags), "--fast-retries", cwd=tmp_path)
    # found in the folder and run; without a warehouse_db connection its first task fails
    states = task_states(result.stdout)
    assert states == {"idempotent_load": "failed", "idempotent_upsert": "upstream_failed"}, \
        result.stdout + result.stderr
    assert "connection 'warehouse_db' is not defined" in result.stdout


def test_without_the_flag_dags_test_says_how_to_enable_it(tmp_path: Path) -> None:
    dags = copy_article_dags(tmp_path / "dags", ["conditional_pipeline.py"])
    result = millstream_cli("dags", "test", str(dags / "conditional_pipeline.py"), cwd=tmp_path)
    assert result.returncode == 2
    assert "No module named 'airflow'" in result.stderr
    assert "set compat.airflow = true" in result.stderr


def test_pipeline_with_metrics_fails_on_the_articles_naive_datetime(tmp_path: Path) -> None:
    # utcnow() (naive) minus the run's aware start_date: Airflow raises the same TypeError.
    dags = copy_article_dags(tmp_path / "dags", ["pipeline_with_metrics.py"])
    result = millstream_cli("dags", "test", "--airflow-compat", "--fast-retries",
                            str(dags / "pipeline_with_metrics.py"), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert task_states(result.stdout) == {
        "start": "success", "extract_with_metrics": "success",
        "transform_with_metrics": "success", "emit_pipeline_summary": "failed",
        "end": "upstream_failed"}
    assert "can't subtract offset-naive and offset-aware datetimes" in result.stdout


def test_the_parallel_dag_is_an_import_error_for_dags_test(tmp_path: Path) -> None:
    dags = copy_article_dags(tmp_path / "dags", ["parallel_processing_dag.py"])
    result = millstream_cli("dags", "test", "--airflow-compat",
                            str(dags / "parallel_processing_dag.py"), cwd=tmp_path)
    assert result.returncode == 2
    assert "line 90" in result.stderr and "'list' and 'list'" in result.stderr


# -- robust_error_handling: every outcome of its random draw ------------------------------------
def test_robust_error_handling_behaves_as_in_airflow_for_every_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    airflow_compat.enable()
    dag = load_dag_file(AIRFLOW_DAGS / "robust_error_handling.py")[
        "robust_error_handling_pipeline"]
    seen: dict[str, int] = {}
    for seed in range(200):
        random.seed(seed)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            result = dag.test(logical_date=LOGICAL_DATE, fast_retries=True)
        states = result.task_states
        extract = states["extract_data"]
        tries = next(t.tries for t in result.tasks if t.label == "extract_data")
        assert states["cleanup_resources"] == "success"
        assert states["end"] == "success"
        assert result.state == "success"
        if extract == "failed":
            # retries=3: the last of four tries failed; the failure branch ran
            assert tries == 4
            assert states["send_failure_alert"] == "success"
            assert "Task Failed!" in caplog.text
            assert "Execution Date: 2026-01-01 00:00:00+00:00" in caplog.text
            assert "retry 3/3" in caplog.text
        else:
            assert extract in ("success", "skipped")
            assert states["send_failure_alert"] == "skipped"
        if extract == "success":
            assert "Task extract_data completed in" in caplog.text
            assert result.xcom_pull("extract_data") == {"records": 1000}
        seen.setdefault(extract, seed)
        if len(seen) == 3:
            break
    assert set(seen) == {"success", "skipped", "failed"}


# -- event_driven_etl: sensors on another DAG, a file, and an HTTP API ---------------------------
UPSTREAM = """
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("data_ingestion_pipeline", schedule_interval="0 * * * *",
         start_date=datetime(2026, 1, 1)) as dag:
    EmptyOperator(task_id="ingest") >> EmptyOperator(task_id="complete")
"""


@pytest.fixture
def api() -> Any:
    server = RecordingHttpServer().start()
    yield server
    server.stop()


def event_driven_dags(tmp_path: Path, api_url: str) -> tuple[Any, Any]:
    folder = copy_article_dags(tmp_path / "dags", ["event_driven_pipeline.py"], api_url)
    (folder / "data_ingestion_pipeline.py").write_text(UPSTREAM)
    airflow_compat.enable()
    upstream = load_dag_file(folder / "data_ingestion_pipeline.py")["data_ingestion_pipeline"]
    dag = load_dag_file(folder / "event_driven_pipeline.py")["event_driven_etl"]
    return upstream, dag


def test_event_driven_etl_runs_once_everything_it_waits_for_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: RecordingHttpServer,
) -> None:
    upstream, dag = event_driven_dags(tmp_path, f"{api.url}/health")
    data = tmp_path / "data"
    (data / "landing").mkdir(parents=True)
    (data / "landing" / "sales_2026-01-01.csv").write_text("order_id\n1\n")
    monkeypatch.setenv("MILLSTREAM_CONN_DATA_FILESYSTEM", f"fs://?path={data}")
    store = MemoryStore(open_pools=True)
    assert run_dag_test(upstream, LOGICAL_DATE, store=store).state == "success"

    result = run_dag_test(dag, LOGICAL_DATE, store=store, fast_retries=True)

    assert result.state == "success", result.tasks
    assert set(result.task_states.values()) == {"success"}
    assert result.xcom_pull("process_data") == {"status": "processed"}
    assert api.requests_to("/health")


def test_event_driven_etl_fails_when_the_api_never_becomes_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: RecordingHttpServer,
) -> None:
    upstream, dag = event_driven_dags(tmp_path, f"{api.url}/health")
    api.respond("/health", (503, '{"ready": false}'))
    data = tmp_path / "data"
    (data / "landing").mkdir(parents=True)
    (data / "landing" / "sales_2026-01-01.csv").write_text("order_id\n1\n")
    monkeypatch.setenv("MILLSTREAM_CONN_DATA_FILESYSTEM", f"fs://?path={data}")
    store = MemoryStore(open_pools=True)
    run_dag_test(upstream, LOGICAL_DATE, store=store)

    result = run_dag_test(dag, LOGICAL_DATE, store=store, fast_retries=True)

    states = result.task_states
    assert result.state == "failed"
    # timeout=600, poke_interval=30: the sensor poked until its timeout, then failed
    assert states["wait_for_api"] == "failed"
    assert "timed out" in (next(t.error for t in result.tasks if t.label == "wait_for_api") or "")
    assert len(api.requests_to("/health")) >= 20
    assert states["wait_for_upstream_pipeline"] == states["wait_for_data_file"] == "success"
    assert states["process_data"] == states["end"] == "upstream_failed"


# -- common/config.py: Airflow Variables through millstream's -----------------------------------
def test_the_articles_config_module_reads_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    airflow_compat.enable()
    monkeypatch.setenv("MILLSTREAM_VAR_MAX_ROWS", "500")
    monkeypatch.setenv("MILLSTREAM_VAR_LIMITS", json.dumps({"rows": 10}))
    monkeypatch.setenv("MILLSTREAM_VAR_BROKEN", "{not json")
    spec = importlib.util.spec_from_file_location("article_config",
                                                  AIRFLOW_DAGS / "common" / "config.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.PipelineConfig

    assert config.get_variable("max_rows", default="1") == "500"
    assert config.get_variable("missing", default="fallback") == "fallback"
    assert config.get_json_variable("limits") == {"rows": 10}
    assert config.get_json_variable("broken", {"safe": True}) == {"safe": True}
    assert config.get_connection_config("source") == "sales_db_dev"


# -- the database pipelines, on PostgreSQL -----------------------------------------------------
def psql(uri: str, *statements: str) -> list[tuple[Any, ...]]:
    import psycopg

    rows: list[tuple[Any, ...]] = []
    with psycopg.connect(uri, autocommit=True) as conn:
        for statement in statements:
            cursor = conn.execute(statement)
            if cursor.description:
                rows = list(cursor.fetchall())
    return rows


def test_idempotent_etl_runs_twice_with_the_same_result(tmp_path: Path) -> None:
    with postgres_schema_uri("compat_idem") as (uri, _schema):
        psql(uri,
             "CREATE TABLE staging_sales (order_id int, customer_id int, amount numeric, "
             "order_date timestamptz)",
             "CREATE TABLE fact_sales (order_id int, customer_id int, amount numeric, "
             "order_date timestamptz)",
             "CREATE TABLE staging_customers (customer_id int, name text, email text)",
             "CREATE TABLE dim_customers (customer_id int PRIMARY KEY, name text, email text, "
             "updated_at timestamptz)",
             "INSERT INTO staging_sales VALUES (1, 7, 10.5, '2026-01-01 09:00+00'), "
             "(2, 8, 3, '2026-01-01 23:59+00'), (3, 7, 99, '2026-01-02 07:00+00')",
             "INSERT INTO staging_customers VALUES (7, 'Ada', 'ada@example.com'), "
             "(8, 'Bo', 'bo@example.com')",
             "INSERT INTO dim_customers VALUES (7, 'Old', 'old@example.com', NULL)")
        dags = copy_article_dags(tmp_path / "dags", ["idempotent_tasks.py"])
        env = {"MILLSTREAM_CONN_WAREHOUSE_DB": uri}
        for _ in range(2):
            result = millstream_cli("dags", "test", "--airflow-compat",
                                    str(dags / "idempotent_tasks.py"),
                                    "--logical-date", SIX_AM, cwd=tmp_path, env=env)
            assert result.returncode == 0, result.stdout + result.stderr
            assert task_states(result.stdout) == {"idempotent_load": "success",
                                                  "idempotent_upsert": "success"}
            # the run's interval is 2026-01-01 06:00 to 2026-01-02 06:00: order 3 is after it
            assert psql(uri, "SELECT order_id FROM fact_sales ORDER BY 1") == [(1,), (2,)]
            assert psql(uri, "SELECT customer_id, name FROM dim_customers ORDER BY 1") == [
                (7, "Ada"), (8, "Bo")]


def test_etl_sales_pipeline_on_a_postgresql_source_and_warehouse(tmp_path: Path) -> None:
    with postgres_schema_uri("compat_src") as (source, _), \
            postgres_schema_uri("compat_wh") as (warehouse, _):
        psql(source,
             "CREATE TABLE sales_orders (order_id int, customer_id int, product_id int, "
             "quantity int, unit_price numeric(10,2), order_date timestamptz, region text)",
             "INSERT INTO sales_orders VALUES "
             "(1, 10, 100, 2, 5.00, '2026-01-01 08:00+00', 'north'), "
             "(2, 11, 100, 1, 5.00, '2026-01-01 09:00+00', 'north'), "
             "(3, 12, 200, 0, 7.00, '2026-01-01 10:00+00', 'south'), "
             "(4, 13, 200, 3, 7.00, '2026-01-03 10:00+00', 'south')")
        psql(warehouse,
             "CREATE TABLE sales_fact (order_id int, customer_id int, product_id int, "
             "quantity int, unit_price numeric(10,2), order_date timestamptz, region text, "
             "total_amount numeric(12,2), order_month text)",
             "CREATE TABLE sales_summary (region text, product_id int, order_month text, "
             "order_count int, total_quantity int, total_revenue numeric(12,2), "
             "updated_at timestamptz, PRIMARY KEY (region, product_id, order_month))")
        dags = copy_article_dags(tmp_path / "dags", ["etl_pipeline.py"])
        env = {"MILLSTREAM_CONN_SALES_DB": source, "MILLSTREAM_CONN_WAREHOUSE_DB": warehouse}
        result = millstream_cli("dags", "test", "--airflow-compat", "--fast-retries",
                                str(dags / "etl_pipeline.py"), "--logical-date", SIX_AM,
                                cwd=tmp_path, env=env)
        states = task_states(result.stdout)
        # The run ends in success: `end` follows `cleanup` (all_done), as in the article.
        assert result.returncode == 0, result.stdout + result.stderr
        assert states == {
            "start": "success", "extract_sales_data": "success",
            "transform_sales_data": "success", "load_tasks.load_detail": "success",
            # The article's summary load fails on Airflow too: pandas writes the Decimal
            # revenue column into the staging table as TEXT, and PostgreSQL will not
            # assign text to the numeric total_revenue in INSERT ... SELECT.
            "load_tasks.load_summary": "failed", "validate_data": "upstream_failed",
            "cleanup": "success", "end": "success",
        }, result.stdout
        assert 'column "total_revenue" is of type numeric but expression is of type text' \
            in result.stdout
        # The detail load (pandas to_sql of decimals into numeric columns) works as on
        # Airflow's psycopg 2 engine; the zero-quantity order was filtered out.
        assert psql(warehouse, "SELECT order_id FROM sales_fact ORDER BY 1") == [(1,), (2,)]
        assert psql(warehouse, "SELECT count(*) FROM sales_summary") == [(0,)]
        assert not Path(f"/tmp/sales_extract_{LOGICAL_DATE}.parquet").exists()
