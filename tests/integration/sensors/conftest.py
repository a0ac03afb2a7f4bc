"""Fixtures for sensors run by real millstream processes over SQLite or PostgreSQL.

The engine tests' helpers (a millstream home, its processes, polling) are reused from
tests/integration/engine/engine_helpers.py; each test gets a home over a fresh database:
a SQLite file, or a PostgreSQL schema of its own reached through the URL's
``options=-csearch_path=...`` so that every process of the test sees only that schema.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from engine_helpers import Home
from tests.store_fixtures import (
    drop_postgres_schema,
    new_schema_name,
    postgres_schema_engine,
)

from millstream.store.sql.migrate import migrate

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: SQLite in the test's folder, or a PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'home' / 'millstream.db'}"
        (tmp_path / "home").mkdir(parents=True, exist_ok=True)
        migrate(url)
        yield url
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip("needs PostgreSQL: set MILLSTREAM_TEST_POSTGRES_URL")
    schema = new_schema_name("sensors")
    postgres_schema_engine(base, schema).dispose()  # creates the schema
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema}', safe='')}"
    try:
        migrate(url)
        yield url
    finally:
        drop_postgres_schema(base, schema)


@pytest.fixture
def home(tmp_path: Path, database_url: str) -> Iterator[Home]:
    """A millstream home (dags folder, logs) over the test's database."""
    path = tmp_path / "home"
    (path / "dags").mkdir(parents=True, exist_ok=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    home = Home(path, database_url, scratch)
    try:
        yield home
    finally:
        home.close()
