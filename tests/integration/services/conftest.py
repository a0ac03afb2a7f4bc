"""The services run over the store suite's databases: SQLite in a file, and PostgreSQL."""

from tests.store_fixtures import (  # noqa: F401 - fixtures, used by name
    clean_postgres_engine,
    postgres_engine,
    sql_engine,
    sqlite_engine,
    sqlite_template,
)
