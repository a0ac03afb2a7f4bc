"""Creating the SQLAlchemy engine for a database URL: SQLite tuned for WAL, or PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from millstream.exceptions import InvalidInputError
from millstream.private_files import touch_private
from millstream.store.sql.pg_checkout import check_by_begin
from millstream.store.sql.read_only import (
    begin_postgresql,
    begin_sqlite,
    refuse_writes_clearly,
)

DatabaseError = SQLAlchemyError
"""What the database layer raises (bad URL, unreachable server, locked file ...)."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another process's write lock before failing."""

PG_CONNECT_TIMEOUT_S = 10
"""How long a PostgreSQL connection attempt may take before it fails (libpq's own timer)."""
PG_STATEMENT_TIMEOUT_S = 30.0
"""How long the server lets one statement, or an idle open transaction, last."""
PG_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                 "keepalives_count": 3}
"""TCP keepalives: a peer that is gone (no acknowledgement at all) is noticed in ~25 s."""
PG_SERVER_KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5,
                        "tcp_keepalives_count": 3}
"""The same keepalives on the server's end: a session whose client machine vanished is
ended in ~25 s, not after the system's default two hours. It matters for a session left
in a transaction with no idle timer running (mid-pipeline, or after a batched
``executemany``), whose row locks would otherwise stall every other process."""


def normalize_url(url: str | URL) -> URL:
    """The URL with PostgreSQL pointed at the psycopg 3 driver (``postgresql+psycopg``)."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def describe_database_error(error: BaseException) -> str:
    """A database error's message without SQLAlchemy's trailing background link."""
    return str(error).split("\n(Background on this error")[0]


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database)).expanduser()


def ensure_sqlite_file(url: str) -> None:
    """Create a SQLite database's folder and empty file, owner-only, if they are missing.

    SQLite would create the file with the umask's permissions, and its ``-wal`` and
    ``-shm`` files take the database file's: so the file is made first, mode 0600.
    """
    path = sqlite_file(url)
    if path is not None:
        touch_private(path)


def shown_url(url: str) -> str:
    """The URL with any password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(
    url: str | URL,
    *,
    connect_timeout_s: int = PG_CONNECT_TIMEOUT_S,
    statement_timeout_s: float = PG_STATEMENT_TIMEOUT_S,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, a busy timeout and IMMEDIATE writes.

    Every SQLite transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock
    up front (waiting up to the busy timeout), so two processes never deadlock
    upgrading a read to a write; a read-only one (:mod:`~millstream.store.sql.read_only`)
    takes no lock. An in-memory SQLite database (``sqlite://``) lives in
    one shared connection, so it suits one store at a time (quick experiments, not
    services). Extra keyword arguments go to ``create_engine``.

    A PostgreSQL connection gets a connect timeout, TCP keepalives, and server-side
    ``statement_timeout``, ``idle_in_transaction_session_timeout`` and server-side TCP
    keepalives (a statement timeout of 0 turns all three off), so that neither a dead
    server nor a client that vanished mid-transaction holds anything for long. Values the
    URL sets itself win. With ``pool_pre_ping`` (the default) it is checked as the pool
    hands it out: by the ``BEGIN`` of a store transaction, or else by a ping
    (:mod:`~millstream.store.sql.pg_checkout`).
    """
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    if backend == "postgresql":
        kwargs["connect_args"] = postgres_connect_args(
            parsed, kwargs.get("connect_args", {}), connect_timeout_s, statement_timeout_s
        )
        # The pool's ping is replaced, not dropped: see pg_checkout.
        pre_ping = kwargs.pop("pool_pre_ping", True)
        engine = create_engine(parsed, pool_pre_ping=False, **kwargs)
        if pre_ping:
            check_by_begin(engine)
        event.listen(engine, "begin", begin_postgresql)
        refuse_writes_clearly(engine)
        return engine
    raise InvalidInputError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/to/file.db or postgresql://user@host/dbname"
    )


def postgres_connect_args(
    url: URL, given: dict[str, Any], connect_timeout_s: int, statement_timeout_s: float
) -> dict[str, Any]:
    """libpq parameters for ``url``: timeouts and keepalives added to what it and ``given``
    set; the server-side timeouts are appended to any ``options`` the URL has."""
    args = dict(given)
    present = set(url.query) | set(args)
    defaults: dict[str, Any] = {"connect_timeout": connect_timeout_s, **PG_KEEPALIVES}
    for name, value in defaults.items():
        if name not in present:
            args[name] = value
    if statement_timeout_s > 0:
        options = str(args.get("options", url.query.get("options", "")))
        ms = round(statement_timeout_s * 1000)
        guards = {"statement_timeout": ms, "idle_in_transaction_session_timeout": ms,
                  **PG_SERVER_KEEPALIVES}
        for setting, value in guards.items():
            if setting not in options:
                options = f"{options} -c {setting}={value}".strip()
        args["options"] = options
    return args


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    if in_memory:
        kwargs.setdefault("poolclass", StaticPool)  # one shared connection, one database
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    event.listen(engine, "begin", begin_sqlite)
    refuse_writes_clearly(engine)
    return engine
