"""SqlSensor on a real SQLite database file, reached through a connection."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from millstream import DAG
from millstream.exceptions import DagDefinitionError
from millstream.sensors import SqlSensor

START = datetime(2026, 1, 1)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite file with a ``loads`` table, reachable as the connection ``local_db``."""
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE loads (day TEXT, status TEXT, rows INTEGER)")
    monkeypatch.setenv("MILLSTREAM_CONN_LOCAL_DB", f"sqlite:///{path}")
    return path


def _insert(path: Path, *row: object) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO loads VALUES (?, ?, ?)", row)


def _run(**sensor_kwargs):
    sensor_kwargs.setdefault("conn_id", "local_db")
    with DAG("sql_wait", schedule="@daily", start_date=START) as dag:
        SqlSensor(task_id="wait", poke_interval=0.01, timeout=30, **sensor_kwargs)
    return dag.test(logical_date="2026-01-05")


def test_waits_until_the_query_returns_a_truthy_first_cell(db: Path, between_pokes) -> None:
    waits = between_pokes(lambda: _insert(db, "2026-01-05", "done", 120), after=2)

    result = _run(sql="SELECT COUNT(*) FROM loads WHERE day = '{{ ds }}'")

    assert result.task_states == {"wait": "success"}, result.tasks
    assert waits.seen == 2  # COUNT(*) = 0 is "not yet"


def test_parameters_are_templated_and_passed_to_the_driver(db: Path, between_pokes) -> None:
    _insert(db, "2026-01-04", "done", 10)  # another day does not count
    between_pokes(lambda: _insert(db, "2026-01-05", "done", 5))

    result = _run(sql="SELECT rows FROM loads WHERE day = ? AND status = ?",
                  parameters=["{{ ds }}", "done"])

    assert result.task_states == {"wait": "success"}, result.tasks


def test_no_rows_means_not_yet_and_success_decides_on_the_value(db: Path,
                                                                between_pokes) -> None:
    _insert(db, "2026-01-05", "running", 0)
    waits = between_pokes(lambda: _insert(db, "2026-01-05", "done", 7), after=2)

    result = _run(sql="SELECT status FROM loads WHERE day = '{{ ds }}' ORDER BY rowid DESC",
                  success=lambda status: status == "done")

    assert result.task_states == {"wait": "success"}, result.tasks
    assert waits.seen == 2


def test_failure_criteria_fail_at_once(db: Path) -> None:
    _insert(db, "2026-01-05", "error", 0)

    result = _run(sql="SELECT status FROM loads WHERE day = '{{ ds }}'",
                  failure=lambda status: status == "error", retries=3)

    wait = result.tasks[0]
    assert (wait.state, wait.tries) == ("failed", 1)
    assert "failure criteria met" in wait.error and "'error'" in wait.error


def test_fail_on_empty_fails_when_the_query_returns_no_rows(db: Path) -> None:
    result = _run(sql="SELECT status FROM loads", fail_on_empty=True)

    assert result.task_states == {"wait": "failed"}
    assert "returned no rows (fail_on_empty)" in result.tasks[0].error


def test_the_sql_may_come_from_a_template_file(db: Path, tmp_path: Path) -> None:
    (tmp_path / "check.sql").write_text("SELECT COUNT(*) FROM loads WHERE day = '{{ ds }}'")
    _insert(db, "2026-01-05", "done", 1)
    with DAG("sql_wait", schedule="@daily", start_date=START,
             template_searchpath=[str(tmp_path)]) as dag:
        SqlSensor(task_id="wait", conn_id="local_db", sql="check.sql", poke_interval=0.01,
                  timeout=30)

    assert dag.test(logical_date="2026-01-05").task_states == {"wait": "success"}


def test_a_connection_that_is_not_a_database_fails_naming_it(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_SOME_API", "http://127.0.0.1:9")

    result = _run(conn_id="some_api", sql="SELECT 1")

    assert result.task_states == {"wait": "failed"}
    assert "connection 'some_api'" in result.tasks[0].error
    assert "needs a database connection" in result.tasks[0].error


def test_a_bad_query_fails_with_the_database_error(db: Path) -> None:
    result = _run(sql="SELECT nope FROM loads")

    assert result.task_states == {"wait": "failed"}
    assert "no such column: nope" in result.tasks[0].error


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"sql": "  "}, "sql must be a non-empty string"),
    ({"sql": "SELECT 1", "success": "yes"}, "success must be callable"),
    ({"sql": "SELECT 1", "conn_id": ""}, "conn_id must be a non-empty string"),
])
def test_bad_arguments_are_definition_errors(kwargs, message) -> None:
    kwargs.setdefault("conn_id", "local_db")
    with pytest.raises(DagDefinitionError, match="task 'wait'") as raised, \
            DAG("sql_wait", schedule=None):
        SqlSensor(task_id="wait", **kwargs)
    assert message in str(raised.value)
