"""SqlSensor against a real PostgreSQL database, in a schema of this test's own."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from millstream import DAG
from millstream.sensors import SqlSensor

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"
START = datetime(2026, 1, 1)


@pytest.fixture
def warehouse(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Callable[[str], None]]]:
    """A fresh schema with a ``loads`` table, the connection ``warehouse`` to the database,
    and a function that runs SQL there (the test's own session, autocommitted)."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip("needs PostgreSQL: set MILLSTREAM_TEST_POSTGRES_URL")
    import psycopg

    url = base.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"millstream_sqlsensor_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    admin.execute(f'CREATE TABLE "{schema}".loads (day date, status text, rows integer)')
    monkeypatch.setenv("MILLSTREAM_CONN_WAREHOUSE", url)
    try:
        yield schema, lambda sql: admin.execute(sql)
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def _between_pokes(action: Callable[[], None], after: int = 1) -> logging.Handler:
    """Run ``action`` once the sensor has logged ``after`` waits (poke mode)."""

    class Handler(logging.Handler):
        seen = 0

        def emit(self, record: logging.LogRecord) -> None:
            if "condition not met" in record.getMessage():
                Handler.seen += 1
                if Handler.seen == after:
                    action()

    return Handler()


@pytest.fixture
def task_log() -> Iterator[Callable[[logging.Handler], None]]:
    logger = logging.getLogger("millstream.task")
    added: list[logging.Handler] = []
    level = logger.level
    logger.setLevel(logging.INFO)

    def add(handler: logging.Handler) -> None:
        added.append(handler)
        logger.addHandler(handler)

    yield add
    for handler in added:
        logger.removeHandler(handler)
    logger.setLevel(level)


def _dag(**sensor_kwargs) -> DAG:
    with DAG("pg_wait", schedule="@daily", start_date=START) as dag:
        SqlSensor(task_id="wait", conn_id="warehouse", poke_interval=0.01, timeout=60,
                  **sensor_kwargs)
    return dag


def test_waits_until_the_days_load_is_done(warehouse, task_log) -> None:
    schema, execute = warehouse
    execute(f"INSERT INTO \"{schema}\".loads VALUES ('2026-01-05', 'running', 0)")
    handler = _between_pokes(
        lambda: execute(f"UPDATE \"{schema}\".loads SET status = 'done', rows = 42"), after=2)
    task_log(handler)
    dag = _dag(sql=f'SELECT rows FROM "{schema}".loads WHERE day = %s AND status = %s',
               parameters=["{{ ds }}", "done"])

    result = dag.test(logical_date="2026-01-05")

    assert result.task_states == {"wait": "success"}, result.tasks
    assert handler.seen == 2  # no row matched twice, then the update made one


def test_failure_criteria_on_postgres_fail_at_once(warehouse) -> None:
    schema, execute = warehouse
    execute(f"INSERT INTO \"{schema}\".loads VALUES ('2026-01-05', 'error', 0)")
    dag = _dag(sql=f"SELECT status FROM \"{schema}\".loads WHERE day = '{{{{ ds }}}}'",
               failure=lambda status: status == "error", retries=2)

    result = dag.test(logical_date="2026-01-05")

    assert (result.tasks[0].state, result.tasks[0].tries) == ("failed", 1)
    assert "failure criteria met" in result.tasks[0].error


def test_a_bad_query_names_the_postgres_error(warehouse) -> None:
    schema, _ = warehouse
    dag = _dag(sql=f'SELECT nope FROM "{schema}".loads')

    result = dag.test(logical_date="2026-01-05")

    assert result.task_states == {"wait": "failed"}
    assert 'column "nope" does not exist' in result.tasks[0].error
