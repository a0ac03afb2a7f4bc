"""SqliteHook: a SQLite database file through the standard library's sqlite3."""

from __future__ import annotations

import sqlite3
from typing import Any, ClassVar

from millstream.hooks.dbapi import DbApiHook


class SqliteHook(DbApiHook):
    """A SQLite database file: ``SqliteHook(sqlite_conn_id="local_db")``.

    The file is the connection's ``host`` (as in Airflow) or, for a URI like
    ``sqlite:////data/app.db``, its path; neither means an in-memory database.
    Parameters use ``?`` (or ``:name``); ``replace=True`` in :meth:`insert_rows`
    is ``REPLACE INTO``. A ``timeout`` in the extra is the busy timeout in seconds.
    """

    conn_name_attr = "sqlite_conn_id"
    default_conn_name = "sqlite_default"
    conn_type = "sqlite"
    hook_name = "SQLite"
    placeholder: ClassVar[str] = "?"
    supports_multiple_statements: ClassVar[bool] = False

    @property
    def path(self) -> str:
        """The database file (``:memory:`` when the connection names none)."""
        conn = self.connection
        return conn.host or conn.schema or ":memory:"

    def get_conn(self) -> sqlite3.Connection:
        """A new sqlite3 connection (not in autocommit mode)."""
        timeout = float((self.connection.extra_dejson or {}).get("timeout", 5.0))
        return sqlite3.connect(self.path, timeout=timeout)

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        conn.isolation_level = None if autocommit else ""

    def get_autocommit(self, conn: Any) -> bool:
        return conn.isolation_level is None

    def get_uri(self) -> str:
        """``sqlite:///<path>`` (four slashes for an absolute path), as SQLAlchemy takes it."""
        path = self.path
        return "sqlite://" if path == ":memory:" else f"sqlite:///{path}"


__all__ = ["SqliteHook"]
