"""Fixtures for the durable engine's end-to-end tests: a fresh millstream home per test.

Each test gets a home (dags folder, logs) over a fresh database: a SQLite file in the
home, or a PostgreSQL schema of its own (from MILLSTREAM_TEST_POSTGRES_URL, reached
through the URL's ``options=-csearch_path=...``, so every process of the test, the
scheduler subprocesses included, sees only that schema; it is dropped afterwards).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_helpers import Home, postgres_schema_url

from millstream.store.sql.migrate import migrate

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"
NEEDS_POSTGRES = "needs PostgreSQL: set MILLSTREAM_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: SQLite in the test's folder, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'home' / 'millstream.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(NEEDS_POSTGRES)
    yield from postgres_schema_url(base, "engine")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """For tests that are about processes rather than databases: the default SQLite file."""
    return f"sqlite:///{tmp_path / 'home' / 'millstream.db'}"


def _make_home(tmp_path: Path, url: str, migrated: bool = True) -> Iterator[Home]:
    path = tmp_path / "home"
    (path / "dags").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    if migrated:  # the test may look at the store before any process has migrated it
        migrate(url)
    home = Home(path, url, scratch)
    try:
        yield home
    finally:
        home.close()


@pytest.fixture
def home(tmp_path: Path, database_url: str) -> Iterator[Home]:
    """A home over SQLite or PostgreSQL (the test runs once for each)."""
    yield from _make_home(tmp_path, database_url)


@pytest.fixture
def sqlite_home(tmp_path: Path, sqlite_url: str) -> Iterator[Home]:
    """A home over its default SQLite file."""
    yield from _make_home(tmp_path, sqlite_url)


@pytest.fixture
def blank_home(tmp_path: Path, sqlite_url: str) -> Iterator[Home]:
    """A home whose SQLite database does not exist yet (the first process creates it)."""
    yield from _make_home(tmp_path, sqlite_url, migrated=False)
