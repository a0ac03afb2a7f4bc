"""DbApiHook: queries, statements and row inserts over any DB-API 2 driver."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

from millstream.hooks.base import BaseHook, HookError
from millstream.hooks.sql_split import split_sql_string

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped,unused-ignore]
    from sqlalchemy.engine import Engine

log = logging.getLogger("millstream.hooks")

Parameters = Sequence[Any] | Mapping[str, Any] | None
Handler = Callable[[Any], Any]


def fetch_all_handler(cursor: Any) -> list[Any] | None:
    """Every row of the statement's result; None for a statement that returns no rows."""
    if cursor.description is None:
        return None
    return list(cursor.fetchall())


def fetch_one_handler(cursor: Any) -> Any:
    """The first row of the statement's result, or None."""
    if cursor.description is None:
        return None
    return cursor.fetchone()


class DbApiHook(BaseHook):
    """Base class of database hooks over a DB-API 2 driver.

    A subclass implements :meth:`get_conn` (a new DB-API connection), sets ``placeholder``
    to the driver's parameter marker and, if needed, overrides :meth:`set_autocommit`,
    :meth:`get_uri` and :meth:`_generate_insert_sql`. ``schema`` overrides the database
    (the connection's ``schema`` field) for this hook.
    """

    placeholder: ClassVar[str] = "%s"
    # whether one execute() may carry several statements; if not, run() splits them
    supports_multiple_statements: ClassVar[bool] = True

    def __init__(self, *args: str, schema: str | None = None, log_sql: bool = True,
                 **kwargs: Any) -> None:
        conn_id = kwargs.pop(self.conn_name_attr, None)
        if args:
            if len(args) > 1 or conn_id is not None:
                raise TypeError(f"{type(self).__name__} takes one connection id, got "
                                f"{[*args, conn_id] if conn_id else list(args)}")
            conn_id = args[0]
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unknown arguments: "
                            f"{', '.join(sorted(kwargs))}")
        setattr(self, self.conn_name_attr, conn_id or self.default_conn_name)
        self.schema = schema
        self.log_sql = log_sql
        self.descriptions: list[Sequence[Sequence[Any]] | None] = []
        self._engine: Engine | None = None

    # -- connections -------------------------------------------------------------------------
    def get_conn(self) -> Any:
        """A new DB-API connection; the caller closes it."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_conn()")

    def get_uri(self) -> str:
        """The connection as a URI."""
        return str(self.connection.get_uri())

    @property
    def sqlalchemy_url(self) -> str:
        """The URL SQLAlchemy's ``create_engine`` takes for this connection."""
        return self.get_uri()

    def get_sqlalchemy_engine(self, engine_kwargs: dict[str, Any] | None = None) -> Engine:
        """A SQLAlchemy engine for this connection (kept and reused when no kwargs are given)."""
        from sqlalchemy import create_engine

        if engine_kwargs:
            return create_engine(self.sqlalchemy_url, **engine_kwargs)
        if self._engine is None:
            self._engine = create_engine(self.sqlalchemy_url)
        return self._engine

    def set_autocommit(self, conn: Any, autocommit: bool) -> None:
        """Switch the DB-API connection's autocommit mode."""
        conn.autocommit = autocommit

    def get_autocommit(self, conn: Any) -> bool:
        return bool(getattr(conn, "autocommit", False))

    @property
    def last_description(self) -> Sequence[Sequence[Any]] | None:
        """The cursor description of the last statement :meth:`run` executed."""
        return self.descriptions[-1] if self.descriptions else None

    # -- queries -----------------------------------------------------------------------------
    def get_records(self, sql: str | list[str], parameters: Parameters = None) -> Any:
        """Every row the query returns, as a list of tuples."""
        return self.run(sql, parameters=parameters, handler=fetch_all_handler)

    def get_first(self, sql: str | list[str], parameters: Parameters = None) -> Any:
        """The first row the query returns (a tuple), or None."""
        return self.run(sql, parameters=parameters, handler=fetch_one_handler)

    def get_pandas_df(self, sql: str, parameters: Parameters = None,
                      **kwargs: Any) -> pandas.DataFrame:
        """The query's rows as a pandas DataFrame (needs the ``pandas`` extra).

        ``kwargs`` go to ``pandas.DataFrame.from_records`` (e.g. ``index=``).
        """
        try:
            import pandas as pd
        except ImportError:
            raise HookError(
                f"{type(self).__name__}.get_pandas_df needs pandas, which is not installed: "
                "pip install 'millstream[pandas]'"
            ) from None
        with closing(self.get_conn()) as conn, closing(conn.cursor()) as cursor:
            self._execute(cursor, sql, parameters)
            description = cursor.description or ()
            rows = list(cursor.fetchall()) if description else []
        columns = [column[0] for column in description]
        return pd.DataFrame.from_records(rows, columns=columns, **kwargs)

    def run(
        self,
        sql: str | Iterable[str],
        autocommit: bool = False,
        parameters: Parameters = None,
        handler: Handler | None = None,
        split_statements: bool | None = None,
        return_last: bool = True,
    ) -> Any:
        """Execute one statement or several, in one transaction unless ``autocommit``.

        ``parameters`` are bound to every statement with the driver's placeholders
        (``%s`` / ``%(name)s`` for PostgreSQL, ``?`` / ``:name`` for SQLite).
        ``split_statements`` cuts a string at its semicolons (by default only for
        drivers that cannot run several statements at once). With a ``handler``
        (called with the cursor after each statement) the result is the handler's
        value for the last statement when ``sql`` is one string and ``return_last``,
        otherwise the list of values, one per statement; without a handler, None.
        """
        if split_statements is None:
            split_statements = not self.supports_multiple_statements
        statements = self._statements(sql, split_statements)
        results: list[Any] = []
        self.descriptions = []
        with closing(self.get_conn()) as conn:
            self.set_autocommit(conn, autocommit)
            with closing(conn.cursor()) as cursor:
                for statement in statements:
                    self._execute(cursor, statement, parameters)
                    if handler is not None:
                        results.append(handler(cursor))
                    self.descriptions.append(cursor.description)
            if not self.get_autocommit(conn):
                conn.commit()
        if handler is None:
            return None
        if isinstance(sql, str) and (return_last or not split_statements):
            self.descriptions = self.descriptions[-1:]
            return results[-1]
        return results

    def _statements(self, sql: str | Iterable[str], split: bool) -> list[str]:
        if isinstance(sql, str):
            statements = split_sql_string(sql) if split else ([sql] if sql.strip() else [])
        else:
            statements = list(sql)
            bad = [s for s in statements if not isinstance(s, str) or not s.strip()]
            if bad:
                raise ValueError(f"{type(self).__name__}.run: every statement must be a "
                                 f"non-empty string, got {bad[0]!r}")
        if not statements:
            raise ValueError(f"{type(self).__name__}.run: no SQL statement given")
        return statements

    def _execute(self, cursor: Any, sql: str, parameters: Parameters) -> None:
        if self.log_sql:
            log.info("Running statement on %s: %s", self.conn_id, sql)
        try:
            if parameters is None:
                cursor.execute(sql)
            else:
                cursor.execute(sql, parameters)
        except Exception as exc:
            exc.add_note(f"while running SQL on connection {self.conn_id!r}: {sql[:500]}")
            raise
        # several statements in one string: the result is the last one's, as with psycopg2
        next_set = getattr(cursor, "nextset", None)
        while next_set is not None and next_set():
            pass
        if cursor.rowcount is not None and cursor.rowcount >= 0:
            log.info("Rows affected: %s", cursor.rowcount)

    # -- inserts -----------------------------------------------------------------------------
    def insert_rows(
        self,
        table: str,
        rows: Iterable[Sequence[Any]],
        target_fields: Sequence[str] | None = None,
        commit_every: int = 1000,
        replace: bool = False,
        **kwargs: Any,
    ) -> int:
        """Insert ``rows`` (sequences of values) into ``table``; returns how many.

        Rows are sent in batches of ``commit_every`` (all at once if 0), each batch committed.
        ``replace=True`` replaces rows whose key already exists (see the subclass for what
        else it needs, e.g. ``replace_index`` on PostgreSQL).
        """
        if isinstance(target_fields, str):
            target_fields = [target_fields]
        where = f"insert_rows into {table!r}"
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return 0
        width = len(target_fields) if target_fields else _width(first, 0, where)
        statement = self._generate_insert_sql(table, width, target_fields, replace, **kwargs)
        batch_size = commit_every if commit_every > 0 else None
        total = 0
        with closing(self.get_conn()) as conn:
            self.set_autocommit(conn, False)
            with closing(conn.cursor()) as cursor:
                for batch in _batches(first, iterator, batch_size):
                    for offset, row in enumerate(batch):
                        if _width(row, total + offset, where) != width:
                            raise ValueError(f"{where}: row {total + offset} has {len(row)} "
                                             f"values, expected {width}")
                    cursor.executemany(statement, batch)
                    conn.commit()
                    total += len(batch)
                    log.info("%s: %d rows so far", where, total)
        return total

    def _generate_insert_sql(self, table: str, width: int, target_fields: Sequence[str] | None,
                             replace: bool, **kwargs: Any) -> str:
        """The INSERT (or REPLACE) statement for one row of ``width`` values."""
        if kwargs:
            raise TypeError(f"{type(self).__name__}.insert_rows got unknown arguments: "
                            f"{', '.join(sorted(kwargs))}")
        verb = "REPLACE INTO" if replace else "INSERT INTO"
        columns = f" ({', '.join(target_fields)})" if target_fields else ""
        values = ", ".join([self.placeholder] * width)
        return f"{verb} {table}{columns} VALUES ({values})"

    def test_connection(self) -> tuple[bool, str]:
        """``(True, message)`` if ``SELECT 1`` works on the connection, else ``(False, error)``."""
        try:
            self.get_first("SELECT 1")
        except Exception as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, "Connection successfully tested"


def _width(row: Any, index: int, where: str) -> int:
    if isinstance(row, str | bytes) or not isinstance(row, Sequence):
        raise ValueError(f"{where}: row {index} must be a tuple or list of values, "
                         f"got {type(row).__name__}")
    return len(row)


def _batches(first: Sequence[Any], rest: Iterator[Sequence[Any]],
             size: int | None) -> Iterator[list[Sequence[Any]]]:
    batch = [first, *islice(rest, size - 1 if size else None)]
    while batch:
        yield batch
        batch = list(islice(rest, size)) if size else []


__all__ = ["DbApiHook", "fetch_all_handler", "fetch_one_handler"]
