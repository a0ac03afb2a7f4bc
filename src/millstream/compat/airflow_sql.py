"""Airflow's database-specific SQL operators, as SQLExecuteQueryOperator on their connection."""

from __future__ import annotations

from typing import Any

from millstream.operators.sql import SQLExecuteQueryOperator


class PostgresOperator(SQLExecuteQueryOperator):
    """Airflow's ``PostgresOperator``: runs ``sql`` on ``postgres_conn_id``."""

    def __init__(self, *, postgres_conn_id: str = "postgres_default", **kwargs: Any) -> None:
        super().__init__(conn_id=postgres_conn_id, **kwargs)


class SqliteOperator(SQLExecuteQueryOperator):
    """Airflow's ``SqliteOperator``: runs ``sql`` on ``sqlite_conn_id``."""

    def __init__(self, *, sqlite_conn_id: str = "sqlite_default", **kwargs: Any) -> None:
        super().__init__(conn_id=sqlite_conn_id, **kwargs)


__all__ = ["PostgresOperator", "SqliteOperator"]
