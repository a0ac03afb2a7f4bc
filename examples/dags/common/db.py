"""Database: the SQL database behind a connection id (PostgreSQL or SQLite), with bulk CSV copies.

The pipelines write their SQL once, with ``%s`` placeholders, and run it on either
engine: on SQLite the placeholders become ``?`` and datetimes become UTC text
(``YYYY-MM-DD HH:MM:SS``), the form the SQLite tables store. Bulk moves use each
engine's fastest path: ``COPY`` on PostgreSQL, batched ``executemany`` on SQLite.

A connection id that is not defined anywhere (no ``MILLSTREAM_CONN_<ID>`` variable,
no stored connection) resolves to a SQLite file under ``$MILLSTREAM_HOME/example_data``,
so the examples run on a fresh machine; ``Database.is_demo`` tells the two apart.
"""

from __future__ import annotations

import contextlib
import csv
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

from millstream.hooks.base import get_hook
from millstream.secrets import Connection, get_connection
from millstream.secrets.errors import ConnectionNotFound

log = logging.getLogger(__name__)

DEMO_FOLDER = "example_data"
SQLITE_BUSY_TIMEOUT_S = 60.0
_COPY_CHUNK = 1 << 20
_POSTGRES_TYPES = ("postgres", "postgresql")


def demo_database_file(conn_id: str) -> Path:
    """The SQLite file that stands in for connection ``conn_id`` when it is not defined."""
    from millstream.config import load_settings

    return Path(load_settings().core.home) / DEMO_FOLDER / f"{conn_id}.sqlite"


def utc_text(moment: datetime) -> str:
    """A datetime as the UTC text the SQLite tables store (naive means UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


class Database:
    """One database reached through a connection id: ``Database.for_connection("sales_db")``."""

    def __init__(self, conn_id: str, connection: Connection, is_demo: bool) -> None:
        conn_type = (connection.conn_type or "").lower()
        if conn_type in _POSTGRES_TYPES:
            self.dialect = "postgresql"
        elif conn_type == "sqlite":
            self.dialect = "sqlite"
        else:
            raise ValueError(
                f"connection {conn_id!r} is of type {connection.conn_type!r}; "
                "these pipelines work with PostgreSQL or SQLite connections"
            )
        self.conn_id = conn_id
        self.is_demo = is_demo
        self.hook = get_hook(connection)

    @classmethod
    def for_connection(cls, conn_id: str) -> Database:
        """The database of connection ``conn_id``, or its SQLite stand-in if it is undefined."""
        try:
            return cls(conn_id, get_connection(conn_id), is_demo=False)
        except ConnectionNotFound:
            path = demo_database_file(conn_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            demo = Connection(conn_id=conn_id, conn_type="sqlite", host=str(path))
            return cls(conn_id, demo, is_demo=True)

    @property
    def description(self) -> str:
        """What this is, for logs: ``'sales_db' (PostgreSQL)``."""
        if self.dialect == "postgresql":
            return f"{self.conn_id!r} (PostgreSQL)"
        kind = "SQLite stand-in" if self.is_demo else "SQLite"
        return f"{self.conn_id!r} ({kind} {self.hook.path})"

    @property
    def timestamp_type(self) -> str:
        """The column type of a point in time, to the second."""
        return "TIMESTAMPTZ(0)" if self.dialect == "postgresql" else "TEXT"

    def as_utc_text(self, column: str) -> str:
        """An SQL expression giving ``column`` as ``YYYY-MM-DD HH:MM:SS`` in UTC."""
        if self.dialect == "postgresql":
            return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
        return column

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        conn = self.hook.get_conn()
        try:
            if self.dialect == "postgresql":
                with conn.cursor() as cursor:
                    # COPY reads and writes timestamps as text in the session's zone.
                    cursor.execute("SET TIME ZONE 'UTC'")
            else:
                conn.isolation_level = None  # transactions are begun explicitly below
                conn.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
                if self.is_demo:
                    conn.execute("PRAGMA journal_mode = WAL")  # readers do not block writers
                # IMMEDIATE takes the write lock up front: two tasks that check and then
                # fill the same table wait for each other instead of interleaving.
                conn.execute("BEGIN IMMEDIATE")
            yield Session(self, conn)
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            conn.close()

    # -- one statement in a transaction of its own ------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.session() as session:
            return session.execute(sql, params)

    def first(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self.session() as session:
            return session.first(sql, params)

    def records(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.session() as session:
            return session.records(sql, params)


class Session:
    """Statements and bulk copies inside one transaction of a :class:`Database`."""

    def __init__(self, database: Database, conn: Any) -> None:
        self.database = database
        self.conn = conn
        self.cursor = conn.cursor()

    @property
    def sqlite(self) -> bool:
        return self.database.dialect == "sqlite"

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.sqlite else sql

    def _params(self, params: Sequence[Any]) -> Sequence[Any]:
        return [_sqlite_value(p) for p in params] if self.sqlite else params

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed (-1 if not known)."""
        try:
            self.cursor.execute(self._sql(sql), self._params(params))
        except Exception as exc:
            exc.add_note(f"while running SQL on {self.database.description}: {sql.strip()[:300]}")
            raise
        return int(self.cursor.rowcount)

    def first(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.execute(sql, params)
        row = self.cursor.fetchone()
        return tuple(row) if row is not None else None

    def records(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.execute(sql, params)
        return [tuple(row) for row in self.cursor.fetchall()]

    def table_exists(self, table: str) -> bool:
        if self.sqlite:
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s"
        else:
            sql = ("SELECT 1 FROM pg_tables "
                   "WHERE tablename = %s AND schemaname = ANY(current_schemas(false))")
        return self.first(sql, (table,)) is not None

    # -- bulk moves ----------------------------------------------------------------------------
    def copy_query_to_csv(self, query: str, params: Sequence[Any], path: Path) -> int:
        """Write the query's rows to a CSV file (no header; NULL is an empty field).

        Returns the number of rows written.
        """
        if not self.sqlite:
            statement = f"COPY ({query.strip()}) TO STDOUT WITH (FORMAT csv)"
            with path.open("wb") as target, self.cursor.copy(statement, params) as copy:
                for chunk in copy:
                    target.write(chunk)
            return int(self.cursor.rowcount)
        self.execute(query, params)
        count = 0
        with path.open("w", newline="", encoding="utf-8") as target:
            writer = csv.writer(target, lineterminator="\n")
            while rows := self.cursor.fetchmany(10_000):
                writer.writerows(rows)
                count += len(rows)
        return count

    def copy_csv_into(self, table: str, columns: Sequence[str], path: Path,
                      batch_size: int = 10_000) -> int:
        """Append the rows of a CSV file (as :meth:`copy_query_to_csv` writes) to ``table``.

        Returns the number of rows loaded.
        """
        names = ", ".join(columns)
        if not self.sqlite:
            statement = f"COPY {table} ({names}) FROM STDIN WITH (FORMAT csv)"
            with path.open("rb") as source, self.cursor.copy(statement) as copy:
                while chunk := source.read(_COPY_CHUNK):
                    copy.write(chunk)
            return int(self.cursor.rowcount)
        with path.open(newline="", encoding="utf-8") as source:
            rows = ([value if value != "" else None for value in row]
                    for row in csv.reader(source))
            return self.write_rows(table, columns, rows, batch_size)

    def write_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                   batch_size: int = 10_000) -> int:
        """Append Python rows to ``table`` (COPY on PostgreSQL); returns how many."""
        count = 0
        if not self.sqlite:
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            with self.cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        marks = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        iterator = iter(rows)
        while batch := [[_sqlite_value(v) for v in row] for row in islice(iterator, batch_size)]:
            self.cursor.executemany(statement, batch)
            count += len(batch)
        return count


def _sqlite_value(value: Any) -> Any:
    """A value as sqlite3 can bind it: datetimes as UTC text, decimals as text."""
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


__all__ = ["Database", "Session", "demo_database_file", "utc_text"]
