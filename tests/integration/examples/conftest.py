"""Fixtures of the example pipelines' tests: a home of their own, PostgreSQL source and warehouse.

The sales pipelines read the ``sales_db`` connection and write ``warehouse_db``. Here
each is a PostgreSQL schema of the test's own (``MILLSTREAM_CONN_<ID>`` with a
``search_path``), or, with no connection defined, the SQLite stand-ins in the test's
home; the tables are filled and checked with psycopg directly, not with the code under
test.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from millstream import DAG
from millstream.parsing import load_dag_file
from millstream.store.current import using_store
from millstream.store.memory import MemoryStore
from tests.integration.hooks.pg import postgres_schema_uri

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "dags"
# The DAG files import their helpers as the top-level package ``common`` (their folder
# is on sys.path while they load); the tests use the same package to generate orders.
if str(EXAMPLES) not in sys.path:
    sys.path.append(str(EXAMPLES))

from common.sales_data import SOURCE_COLUMNS, OrderGenerator, source_table_ddl  # noqa: E402

_modules = itertools.count(1)


def load_example(dag_id: str) -> DAG:
    """The DAG of ``examples/dags/<dag_id>.py``, freshly loaded."""
    dags = load_dag_file(EXAMPLES / f"{dag_id}.py")
    assert list(dags) == [dag_id]
    return dags[dag_id]


def example_module(name: str) -> ModuleType:
    """``examples/dags/<name>.py`` as a module, for tests that call its functions."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}_{next(_modules)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MILLSTREAM_HOME of the test; no connection or variable leaks in from outside."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("MILLSTREAM_HOME", str(path))
    for name in list(os.environ):
        if name.startswith(("MILLSTREAM_CONN_", "MILLSTREAM_VAR_", "MILLSTREAM__")):
            monkeypatch.delenv(name)
    return path


@pytest.fixture
def memory_store() -> Iterator[MemoryStore]:
    """For task functions called directly: the metadata store they look connections up in."""
    store = MemoryStore()
    with using_store(store):
        yield store


class PgSchema:
    """A PostgreSQL schema of the test's own, reached with psycopg for set-up and checks."""

    def __init__(self, uri: str, schema: str) -> None:
        import psycopg

        self.uri = uri
        self.schema = schema
        self.conn = psycopg.connect(uri, autocommit=True)
        self.conn.execute("SET TIME ZONE 'UTC'")

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.conn.execute(sql, params or None).fetchone()
        assert row is not None
        return row[0] if len(row) == 1 else tuple(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.conn.execute(sql, params or None).fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, params or None)


@dataclass
class SalesDatabases:
    """The ``sales_db`` source and ``warehouse_db`` warehouse of a test, on PostgreSQL."""

    source: PgSchema
    warehouse: PgSchema

    def add_orders(self, rows: Iterable[Sequence[Any]]) -> int:
        """Create the source table if needed and append ``rows`` (SOURCE_COLUMNS order)."""
        for statement in source_table_ddl("TIMESTAMPTZ(0)"):
            self.source.execute(statement)
        count = 0
        with self.source.conn.cursor() as cursor, cursor.copy(
            f"COPY sales_orders ({', '.join(SOURCE_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def generate_orders(self, start: datetime, end: datetime, count: int,
                        first_order_id: int = 1, **generator: Any) -> int:
        """Append ``count`` generated orders placed in ``[start, end)``."""
        orders = OrderGenerator(**generator).orders(start, end, count, first_order_id)
        return self.add_orders(orders)


@pytest.fixture
def sales_databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesDatabases]:
    """PostgreSQL schemas as the ``sales_db`` and ``warehouse_db`` connections."""
    with contextlib.ExitStack() as stack:
        source_uri, source_schema = stack.enter_context(postgres_schema_uri("sales_src"))
        warehouse_uri, warehouse_schema = stack.enter_context(postgres_schema_uri("sales_wh"))
        monkeypatch.setenv("MILLSTREAM_CONN_SALES_DB", source_uri)
        monkeypatch.setenv("MILLSTREAM_CONN_WAREHOUSE_DB", warehouse_uri)
        databases = SalesDatabases(PgSchema(source_uri, source_schema),
                                   PgSchema(warehouse_uri, warehouse_schema))
        try:
            yield databases
        finally:
            databases.source.conn.close()
            databases.warehouse.conn.close()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
