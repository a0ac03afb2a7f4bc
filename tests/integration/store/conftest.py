"""The store contract suite runs on every store kind (see tests/store_fixtures.py)."""

from tests.store_fixtures import (  # noqa: F401 - fixtures, used by name
    NEEDS_POSTGRES,
    POSTGRES_ENV,
    StoreFactory,
    clean_postgres_engine,
    drop_postgres_schema,
    fresh_postgres_engine,
    new_schema_name,
    postgres_engine,
    postgres_schema_engine,
    postgres_url,
    raw_store,
    sql_engine,
    sql_store,
    sqlite_engine,
    sqlite_template,
    store,
    store_factory,
    two_postgres_stores,
)
