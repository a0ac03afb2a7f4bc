"""The store contract runs on every store kind: memory, SQLite and PostgreSQL (see
tests/store_fixtures.py)."""

from __future__ import annotations

from typing import Any

import pytest

from millstream.store.interfaces import Store
from tests.autocommit import autocommit
from tests.store_fixtures import (  # noqa: F401 - fixtures, used by name
    clean_postgres_engine,
    postgres_engine,
    raw_store,
    sqlite_engine,
    sqlite_template,
)


@pytest.fixture
def store(raw_store: Store) -> Any:  # noqa: F811 - the fixture imported above
    """A fresh, empty store of each kind in turn; reads made outside a transaction (the
    tests' own checks) each get one of their own (see tests/autocommit.py)."""
    return autocommit(raw_store)
