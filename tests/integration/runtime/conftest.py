"""The runtime's tests against real stores (see tests/store_fixtures.py)."""

from tests.store_fixtures import (  # noqa: F401 - fixtures, used by name
    clean_postgres_engine,
    fresh_postgres_engine,
    postgres_engine,
    raw_store,
    sqlite_engine,
    sqlite_template,
)
