"""SQLExecuteQueryOperator inside dag.test() on a SQLite database file."""

from __future__ import annotations

import base64
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from millstream import DAG
from millstream.hooks.dbapi import fetch_one_handler
from millstream.operators.python import PythonOperator
from millstream.operators.sql import SQLExecuteQueryOperator, json_ready

START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def sqlite_conn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Connection ``local_db``: a SQLite file of this test; settings from an empty home."""
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path / "home"))
    path = tmp_path / "warehouse.db"
    monkeypatch.setenv("MILLSTREAM_CONN_LOCAL_DB", f"sqlite:///{path}")
    return path


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_create_insert_and_select_with_templated_parameters(sqlite_conn: Path) -> None:
    with DAG("sql_sqlite", start_date=START, schedule=None) as dag:
        create = SQLExecuteQueryOperator(task_id="create", conn_id="local_db", sql="""
            CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount REAL, day TEXT);
            CREATE INDEX orders_day ON orders (day);
        """)
        insert = SQLExecuteQueryOperator(
            task_id="insert", conn_id="local_db",
            sql="INSERT INTO orders (region, amount, day) VALUES (?, ?, ?), ('us', 2.5, ?)",
            parameters=("{{ params.region }}", 10, "{{ ds }}", "{{ ds }}"),
            params={"region": "eu"},
        )
        select = SQLExecuteQueryOperator(
            task_id="select", conn_id="local_db",
            sql="SELECT region, amount, day FROM orders WHERE day = '{{ ds }}' ORDER BY id",
        )

        def total(ti: Any) -> float:
            return sum(row[1] for row in ti.xcom_pull(task_ids="select"))

        report = PythonOperator(task_id="total", python_callable=total)
        create >> insert >> select >> report
    result = dag.test(logical_date="2026-01-05")
    assert result.succeeded, result.tasks
    assert result.xcom_pull("create") is None  # statements without rows give no result
    assert result.xcom_pull("select") == [["eu", 10.0, "2026-01-05"], ["us", 2.5, "2026-01-05"]]
    assert result.xcom_pull("total") == 12.5
    assert _rows(sqlite_conn, "SELECT count(*) FROM orders") == [(2,)]


def test_sql_from_a_template_file_rendered_with_jinja(sqlite_conn: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "daily.sql").write_text(
        "CREATE TABLE IF NOT EXISTS runs (day TEXT, label TEXT);\n"
        "INSERT INTO runs VALUES ('{{ ds }}', '{{ params.label }}');\n"
        "SELECT day, label FROM runs WHERE day = '{{ ds }}';\n"
    )
    with DAG("sql_file", start_date=START, schedule=None,
             template_searchpath=[str(queries)]) as dag:
        SQLExecuteQueryOperator(task_id="daily", conn_id="local_db", sql="daily.sql",
                                params={"label": "nightly"})
    result = dag.test(logical_date="2026-01-06")
    assert result.succeeded, result.tasks
    assert result.xcom_pull("daily") == [["2026-01-06", "nightly"]]


def test_result_shapes_return_last_handler_and_no_push(sqlite_conn: Path) -> None:
    with DAG("sql_shapes", start_date=START, schedule=None) as dag:
        SQLExecuteQueryOperator(task_id="every", conn_id="local_db",
                                sql="SELECT 1; SELECT 2, 'two'", return_last=False)
        SQLExecuteQueryOperator(task_id="listed", conn_id="local_db",
                                sql=["SELECT 1", "SELECT 2"])
        SQLExecuteQueryOperator(task_id="first", conn_id="local_db",
                                sql="SELECT 7 UNION ALL SELECT 8", handler=fetch_one_handler)
        SQLExecuteQueryOperator(task_id="quiet", conn_id="local_db",
                                sql="CREATE TABLE quiet (x); INSERT INTO quiet VALUES (1)",
                                do_xcom_push=False)
    result = dag.test(logical_date="2026-01-05")
    assert result.succeeded, result.tasks
    assert result.xcom_pull("every") == [[[1]], [[2, "two"]]]
    assert result.xcom_pull("listed") == [[[1]], [[2]]]
    assert result.xcom_pull("first") == [7]
    assert result.xcom_pull("quiet") is None
    assert _rows(sqlite_conn, "SELECT x FROM quiet") == [(1,)]


def test_a_failing_statement_fails_the_task_naming_the_connection(sqlite_conn: Path) -> None:
    with DAG("sql_bad", start_date=START, schedule=None) as dag:
        SQLExecuteQueryOperator(task_id="bad", conn_id="local_db",
                                sql="SELECT * FROM no_such_table")
    result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"bad": "failed"}
    error = result.tasks[0].error or ""
    assert "no such table: no_such_table" in error
    assert "while running SQL on connection 'local_db'" in error


def test_a_connection_that_is_not_a_database_is_a_clear_error(
        sqlite_conn: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_SOME_API", "http://api.example.com")
    with DAG("sql_http", start_date=START, schedule=None) as dag:
        SQLExecuteQueryOperator(task_id="q", conn_id="some_api", sql="SELECT 1")
    result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"q": "failed"}
    assert ("task 'q': connection 'some_api' of type 'http' is not a database (HttpHook)"
            in (result.tasks[0].error or ""))


def test_a_missing_sql_file_names_the_file(sqlite_conn: Path) -> None:
    with DAG("sql_missing", start_date=START, schedule=None) as dag:
        SQLExecuteQueryOperator(task_id="q", conn_id="local_db", sql="absent/query.sql")
    result = dag.test(logical_date="2026-01-05")
    assert result.task_states == {"q": "failed"}
    assert "template file 'absent/query.sql'" in (result.tasks[0].error or "")


def test_sqlite_values_become_json(sqlite_conn: Path) -> None:
    with DAG("sql_types", start_date=START, schedule=None) as dag:
        SQLExecuteQueryOperator(task_id="q", conn_id="local_db",
                                sql="SELECT x'00ff', NULL, 1.5, 'text'")
    result = dag.test(logical_date="2026-01-05")
    assert result.xcom_pull("q") == [[base64.b64encode(b"\x00\xff").decode(), None, 1.5,
                                      "text"]]


def test_json_ready_converts_driver_values() -> None:
    import uuid
    from datetime import date, time, timedelta
    from decimal import Decimal

    value = json_ready([
        (Decimal("3"), Decimal("2.50"), date(2026, 1, 2), time(3, 4),
         datetime(2026, 1, 2, 3, 4, tzinfo=UTC), timedelta(minutes=2),
         uuid.UUID(int=1), {"k": (1, 2)}, memoryview(b"ab"), frozenset()),
    ])
    assert value == [[3, 2.5, "2026-01-02", "03:04:00", "2026-01-02T03:04:00+00:00", 120.0,
                      "00000000-0000-0000-0000-000000000001", {"k": [1, 2]}, "YWI=", []]]
    json.dumps(value)
