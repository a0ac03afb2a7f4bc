"""PostgresHook: PostgreSQL through psycopg 3, with COPY bulk loads and ON CONFLICT upserts."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlencode

from millstream.hooks.dbapi import DbApiHook

if TYPE_CHECKING:
    from sqlalchemy import Engine

# extra keys the hook reads itself; every other key is a libpq parameter (sslmode, options ...)
_HOOK_EXTRA_KEYS = frozenset({"cursor", "sqlalchemy_scheme", "__extra__"})
_COPY_CHUNK = 1 << 20


class PostgresHook(DbApiHook):
    """A PostgreSQL database: ``PostgresHook(postgres_conn_id="warehouse_db")``.

    The connection gives host, port, login, password and the database (its ``schema``
    field, or ``database=`` here). Keys of its extra are passed to libpq as connection
    parameters (``sslmode``, ``options`` such as ``-csearch_path=analytics``,
    ``application_name``, ``connect_timeout`` ...), except ``cursor``
    (``dictcursor``/``realdictcursor`` for dict rows, ``namedtuplecursor``).
    """

    conn_name_attr = "postgres_conn_id"
    default_conn_name = "postgres_default"
    conn_type = "postgres"
    hook_name = "Postgres"
    placeholder: ClassVar[str] = "%s"

    def __init__(self, *args: str, database: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if database is not None:
            self.schema = database

    @property
    def database(self) -> str | None:
        return self.schema or self.connection.schema or None

    def _libpq_params(self) -> dict[str, Any]:
        conn = self.connection
        params: dict[str, Any] = {
            "host": conn.host or None,
            "port": conn.port or None,
            "user": conn.login or None,
            "password": conn.password or None,
            "dbname": self.database,
        }
        for key, value in (conn.extra_dejson or {}).items():
            if key not in _HOOK_EXTRA_KEYS and value is not None:
                params[key] = value
        return {key: value for key, value in params.items() if value is not None}

    def get_conn(self) -> Any:
        """A new psycopg connection (not in autocommit mode)."""
        import psycopg
        from psycopg import rows

        factories = {
            "dictcursor": rows.dict_row,
            "realdictcursor": rows.dict_row,
            "namedtuplecursor": rows.namedtuple_row,
        }
        cursor = str((self.connection.extra_dejson or {}).get("cursor", "")).lower()
        if cursor and cursor not in factories:
            raise ValueError(
                f"connection {self.conn_id!r}: unknown cursor {cursor!r} in extra; "
                f"use one of {', '.join(sorted(factories))}"
            )
        row_factory = factories.get(cursor, rows.tuple_row)
        return psycopg.connect(**self._libpq_params(), row_factory=row_factory)

    def get_uri(self) -> str:
        """``postgresql://user:password@host:port/database?libpq-params``."""
        params = self._libpq_params()
        auth = ""
        if "user" in params:
            auth = quote(str(params.pop("user")), safe="")
            if "password" in params:
                auth += ":" + quote(str(params.pop("password")), safe="")
            auth += "@"
        params.pop("password", None)
        host = str(params.pop("host", ""))
        if "port" in params:
            host += f":{params.pop('port')}"
        database = quote(str(params.pop("dbname", "")), safe="")
        query = f"?{urlencode(params)}" if params else ""
        return f"postgresql://{auth}{host}/{database}{query}"

    @property
    def sqlalchemy_url(self) -> str:
        """The URI with SQLAlchemy's psycopg 3 driver (``postgresql+psycopg://``)."""
        scheme = (self.connection.extra_dejson or {}).get("sqlalchemy_scheme", "postgresql+psycopg")
        return f"{scheme}://" + self.get_uri().removeprefix("postgresql://")

    def get_sqlalchemy_engine(self, engine_kwargs: dict[str, Any] | None = None) -> Engine:
        """A SQLAlchemy engine that binds parameters as psycopg 2 did: client-side, untyped.

        SQLAlchemy's psycopg 3 dialect casts each parameter to the type it guessed
        (``%(x)s::VARCHAR`` for a pandas object column), so ``DataFrame.to_sql`` of decimals
        or numeric text into a numeric column fails, where Airflow's psycopg 2 engine lets
        PostgreSQL convert the literal. Binding on the client without casts keeps DAG code
        written for Airflow working unchanged (and SQLAlchemy's reflection with it).
        """
        from psycopg import ClientCursor
        from sqlalchemy.engine.interfaces import BindTyping

        cached = not engine_kwargs
        if cached and self._engine is not None:
            return self._engine
        kwargs = dict(engine_kwargs or {})
        kwargs["connect_args"] = {"cursor_factory": ClientCursor,
                                  **kwargs.get("connect_args", {})}
        engine = super().get_sqlalchemy_engine(kwargs)
        engine.dialect.bind_typing = BindTyping.NONE
        if cached:
            self._engine = engine
        return engine

    # -- COPY --------------------------------------------------------------------------------
    def copy_expert(self, sql: str, filename: str | os.PathLike[str]) -> int:
        """Run a ``COPY ... FROM STDIN`` (reading ``filename``) or ``COPY ... TO STDOUT``
        (writing ``filename``, replacing it); returns the number of rows copied."""
        path = Path(filename)
        from psycopg import pq

        with closing(self.get_conn()) as conn:
            with conn.cursor() as cursor:
                try:
                    with cursor.copy(sql) as copy:
                        assert cursor.pgresult is not None
                        if cursor.pgresult.status == pq.ExecStatus.COPY_IN:
                            with path.open("rb") as source:
                                while chunk := source.read(_COPY_CHUNK):
                                    copy.write(chunk)
                        else:
                            with path.open("wb") as target:
                                for data in copy:
                                    target.write(data)
                except Exception as exc:
                    exc.add_note(f"while copying {path} on connection {self.conn_id!r}: {sql}")
                    raise
                copied = int(cursor.rowcount)
            conn.commit()
        return copied

    def bulk_load(self, table: str, tmp_file: str | os.PathLike[str]) -> int:
        """Load a tab-delimited file (PostgreSQL's COPY text format) into ``table``."""
        return self.copy_expert(f"COPY {table} FROM STDIN", tmp_file)

    def bulk_dump(self, table: str, tmp_file: str | os.PathLike[str]) -> int:
        """Write ``table`` to a tab-delimited file (PostgreSQL's COPY text format)."""
        return self.copy_expert(f"COPY {table} TO STDOUT", tmp_file)

    def copy_rows(self, table: str, rows: Iterable[Sequence[Any]],
                  columns: Sequence[str] | None = None) -> int:
        """Stream Python rows into ``table`` with COPY (much faster than INSERTs).

        ``table`` may be ``schema.table``; names are quoted as identifiers. Values are
        adapted like query parameters (dates, decimals, None ...). One transaction;
        returns the number of rows written.
        """
        from psycopg import sql as pgsql

        target = pgsql.Identifier(*table.split("."))
        if columns:
            names = pgsql.SQL(", ").join(pgsql.Identifier(c) for c in columns)
            statement = pgsql.SQL("COPY {} ({}) FROM STDIN").format(target, names)
        else:
            statement = pgsql.SQL("COPY {} FROM STDIN").format(target)
        count = 0
        with closing(self.get_conn()) as conn:
            with conn.cursor() as cursor:
                try:
                    with cursor.copy(statement) as copy:
                        for row in rows:
                            copy.write_row(row)
                            count += 1
                except Exception as exc:
                    exc.add_note(f"copy_rows into {table!r} on connection {self.conn_id!r}: "
                                 f"failed at row {count}")
                    raise
            conn.commit()
        return count

    # -- upsert ------------------------------------------------------------------------------
    def _generate_insert_sql(self, table: str, width: int, target_fields: Sequence[str] | None,
                             replace: bool, **kwargs: Any) -> str:
        """INSERT, or with ``replace=True`` an upsert: ``INSERT ... ON CONFLICT (replace_index)
        DO UPDATE SET`` every other target field (``DO NOTHING`` if there is none)."""
        replace_index = kwargs.pop("replace_index", None)
        if not replace:
            return super()._generate_insert_sql(table, width, target_fields, False, **kwargs)
        where = f"insert_rows into {table!r} with replace=True"
        if kwargs:
            raise TypeError(f"{where}: unknown arguments {', '.join(sorted(kwargs))}")
        if not target_fields:
            raise ValueError(f"{where}: PostgreSQL needs target_fields to upsert")
        if not replace_index:
            raise ValueError(f"{where}: PostgreSQL needs replace_index, the column(s) of the "
                             "primary key or unique index that identifies a row")
        index = [replace_index] if isinstance(replace_index, str) else list(replace_index)
        missing = [column for column in index if column not in target_fields]
        if missing:
            raise ValueError(f"{where}: replace_index columns {missing} are not in "
                             f"target_fields {list(target_fields)}")
        insert = super()._generate_insert_sql(table, width, target_fields, False)
        updates = [f"{c} = excluded.{c}" for c in target_fields if c not in index]
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        return f"{insert} ON CONFLICT ({', '.join(index)}) {action}"


__all__ = ["PostgresHook"]
