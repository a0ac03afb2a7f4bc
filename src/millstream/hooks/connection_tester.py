"""``millstream connections test``: try to reach the system a connection points at.

postgres, sqlite and http/https connections are tried directly: a query, opening the
database file read-only (so a test never creates one), an HTTP GET of the base URL. Any
other type is tested by its hook (``millstream.hooks``) when that hook can test itself.
Every message is redacted, so a driver error quoting the password shows ``***``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from millstream.secrets.connection import Connection
from millstream.secrets.masking import mask_secret, redact_text

TIMEOUT_S = 10


def test_connection(conn: Connection) -> tuple[bool, str]:
    """(True, what succeeded) or (False, why not); never raises for the system's errors."""
    if conn.password:
        mask_secret(conn.password)
    conn_type = (conn.conn_type or "").lower()
    tester = TESTERS.get(conn_type) or _hook_tester(conn)
    if tester is None:
        known = ", ".join(sorted(TESTERS))
        return False, (f"testing connections of type {conn.conn_type!r} is not supported "
                       f"(supported: {known})")
    try:
        ok, message = tester(conn)
    except Exception as exc:  # the system's own error is the answer, not a crash
        ok, message = False, f"{type(exc).__name__}: {exc}"
    return ok, redact_text(" ".join(str(message).split()))


test_connection.__test__ = False  # type: ignore[attr-defined]  # a function, not a pytest test


def _hook_tester(conn: Connection) -> Callable[[Connection], tuple[bool, str]] | None:
    """A tester from the connection's hook, when hooks are installed and it can test."""
    try:
        from millstream.hooks.base import get_hook
    except ImportError:
        return None
    try:
        hook = get_hook(conn)
    except Exception:  # no hook for this type: the built-in testers decide
        return None
    test = getattr(hook, "test_connection", None)
    if not callable(test):
        return None
    return lambda _conn: _as_result(test())


def _as_result(value: Any) -> tuple[bool, str]:
    if isinstance(value, tuple) and len(value) == 2:
        return bool(value[0]), str(value[1])
    return bool(value), "connection tested"


def _test_postgres(conn: Connection) -> tuple[bool, str]:
    import psycopg

    extra = conn.extra_dejson
    options = {k: v for k, v in extra.items() if k in ("sslmode", "options", "application_name")}
    with psycopg.connect(
        host=conn.host or "localhost", port=conn.port or 5432, user=conn.login,
        password=conn.password, dbname=conn.schema or None, connect_timeout=TIMEOUT_S,
        **options,
    ) as connection:
        version = connection.execute("SELECT version()").fetchone()
    detail = str(version[0]).split(",")[0] if version else "PostgreSQL"
    return True, f"connected to {detail}"


def _test_sqlite(conn: Connection) -> tuple[bool, str]:
    if not conn.host:
        return False, "a sqlite connection needs the database file's path as its host"
    path = Path(conn.host).expanduser()
    if not path.is_file():
        return False, f"database file {path} does not exist"
    # Read-only, so that testing never creates or changes the file.
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                 timeout=TIMEOUT_S)
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        connection.close()
    return True, f"opened {path} (sqlite {sqlite3.sqlite_version})"


def http_base_url(conn: Connection) -> str:
    """The base URL of an http connection: its host (with or without a scheme), port, schema."""
    host = conn.host or ""
    if "://" not in host:
        scheme = conn.schema if conn.schema in ("http", "https") else (conn.conn_type or "http")
        host = f"{'https' if scheme == 'https' else 'http'}://{host}"
    if conn.port:
        host = f"{host.rstrip('/')}:{conn.port}"
    return host


def _test_http(conn: Connection) -> tuple[bool, str]:
    import httpx

    if not conn.host:
        return False, "an http connection needs a host"
    url = http_base_url(conn)
    auth = (conn.login, conn.password or "") if conn.login else None
    headers = {str(k): str(v) for k, v in conn.extra_dejson.items()
               if isinstance(v, str | int | float)}
    response = httpx.get(url, auth=auth, headers=headers, timeout=TIMEOUT_S)
    if response.status_code >= 400:
        return False, f"GET {url} answered {response.status_code} {response.reason_phrase}"
    return True, f"GET {url} answered {response.status_code} {response.reason_phrase}"


TESTERS: dict[str, Callable[[Connection], tuple[bool, str]]] = {
    "postgres": _test_postgres,
    "sqlite": _test_sqlite,
    "http": _test_http,
    "https": _test_http,
}
