"""Hook classes: which class serves a connection type, and the SQL they generate."""

from __future__ import annotations

import pytest

from millstream.hooks import HookError, get_hook
from millstream.hooks.base import hook_class_for, register_hook
from millstream.hooks.http import HttpHook
from millstream.hooks.postgres import PostgresHook
from millstream.hooks.sqlite import SqliteHook
from millstream.secrets import Connection


@pytest.mark.parametrize(
    ("conn_type", "hook_class"),
    [("postgres", PostgresHook), ("postgresql", PostgresHook), ("sqlite", SqliteHook),
     ("http", HttpHook), ("https", HttpHook)],
)
def test_hook_class_for_a_connection_type(conn_type: str, hook_class: type) -> None:
    assert hook_class_for(conn_type) is hook_class


def test_get_hook_binds_the_connection_and_passes_hook_params() -> None:
    conn = Connection("wh", conn_type="postgres", host="db", schema="warehouse", login="etl")
    hook = get_hook(conn, schema="other")
    assert isinstance(hook, PostgresHook)
    assert hook.postgres_conn_id == "wh" and hook.connection is conn
    assert hook.database == "other"


def test_an_unknown_type_names_the_connection_and_the_known_types() -> None:
    with pytest.raises(HookError) as caught:
        get_hook(Connection("box", conn_type="dropbox"))
    assert "connection 'box': no hook for connection type 'dropbox'" in str(caught.value)
    assert "postgres" in str(caught.value) and "sqlite" in str(caught.value)


def test_register_hook_adds_a_type_and_checks_its_target() -> None:
    register_hook("sqlite_alias", "millstream.hooks.sqlite:SqliteHook")
    assert hook_class_for("sqlite_alias") is SqliteHook
    with pytest.raises(ValueError, match=r"package\.module:HookClass"):
        register_hook("x", "millstream.hooks.sqlite.SqliteHook")


def test_postgres_uri_quotes_credentials_and_keeps_libpq_params() -> None:
    conn = Connection("wh", conn_type="postgres", host="db.internal", port=5433,
                      login="etl user", password="p@ss:/word", schema="warehouse",
                      extra={"sslmode": "require", "cursor": "dictcursor"})
    hook = get_hook(conn)
    assert isinstance(hook, PostgresHook)
    assert hook.get_uri() == (
        "postgresql://etl%20user:p%40ss%3A%2Fword@db.internal:5433/warehouse?sslmode=require"
    )
    assert hook.sqlalchemy_url.startswith("postgresql+psycopg://etl%20user:")


def test_insert_statements_per_driver() -> None:
    pg = PostgresHook("x")
    assert pg._generate_insert_sql("s.t", 2, ["a", "b"], False) == (
        "INSERT INTO s.t (a, b) VALUES (%s, %s)")
    assert pg._generate_insert_sql("t", 3, ["id", "a", "b"], True, replace_index="id") == (
        "INSERT INTO t (id, a, b) VALUES (%s, %s, %s) ON CONFLICT (id) "
        "DO UPDATE SET a = excluded.a, b = excluded.b"
    )
    assert pg._generate_insert_sql("t", 2, ["a", "b"], True, replace_index=["a", "b"]) == (
        "INSERT INTO t (a, b) VALUES (%s, %s) ON CONFLICT (a, b) DO NOTHING")
    lite = SqliteHook("y")
    assert lite._generate_insert_sql("t", 2, None, True) == "REPLACE INTO t VALUES (?, ?)"


def test_http_hook_url_joining() -> None:
    hook = HttpHook("GET", http_conn_id=None)
    hook.base_url = "https://api.example.com/v1/"
    assert hook.url_from_endpoint("/items") == "https://api.example.com/v1/items"
    assert hook.url_from_endpoint("items") == "https://api.example.com/v1/items"
    assert hook.url_from_endpoint(None) == "https://api.example.com/v1/"
    assert hook.url_from_endpoint("https://other.example.com/x") == "https://other.example.com/x"
