"""Every scheduler test runs on each store kind: memory, SQLite, and PostgreSQL when
MILLSTREAM_TEST_POSTGRES_URL is set (see tests/store_fixtures.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.store_fixtures import (  # noqa: F401 - fixtures, used by name
    POSTGRES_ENV,
    clean_postgres_engine,
    postgres_engine,
    raw_store_factory,
    sqlite_engine,
    sqlite_template,
)
from tests.unit.scheduler import harness

KINDS = ["memory", "sqlite"] + (["postgres"] if os.environ.get(POSTGRES_ENV) else [])


@pytest.fixture(params=KINDS, autouse=True)
def store_kind(request: pytest.FixtureRequest) -> Iterator[str]:
    """The kind of store each Engine of the test is made over."""
    with raw_store_factory(request, request.param) as make:
        harness.store_factory = make
        try:
            yield request.param
        finally:
            harness.store_factory = harness.MemoryStore
