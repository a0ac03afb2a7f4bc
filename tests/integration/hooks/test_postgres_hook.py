"""PostgresHook against the real PostgreSQL: queries, transactions, inserts, upserts and COPY."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from millstream.hooks import HookError, get_hook
from millstream.hooks.base import BaseHook
from millstream.hooks.dbapi import fetch_all_handler
from millstream.hooks.postgres import PostgresHook
from millstream.secrets import Connection, ConnectionNotFound
from millstream.store.current import using_store
from millstream.store.memory import MemoryStore
from tests.integration.hooks.pg import postgres_url

pytestmark = pytest.mark.postgres


def _sales_table(hook: PostgresHook) -> None:
    hook.run("""
        CREATE TABLE sales (
            order_id integer PRIMARY KEY,
            region text NOT NULL,
            amount numeric(10, 2),
            order_date timestamptz NOT NULL
        )
    """)


def test_connection_from_env_var_reaches_the_tests_own_schema(pg_conn_id: str) -> None:
    hook = PostgresHook(postgres_conn_id=pg_conn_id)
    schema = hook.get_first("SELECT current_schema()")[0]
    assert schema.startswith("millstream_hooks_")
    assert hook.connection.conn_type == "postgres"
    database = hook.get_first("SELECT current_database()")[0]
    assert hook.database == database == urlsplit(postgres_url()).path.lstrip("/")
    assert PostgresHook(pg_conn_id, database="postgres").get_first(
        "SELECT current_database()") == ("postgres",)


def test_get_records_and_get_first_bind_parameters(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    _sales_table(hook)
    day = datetime(2026, 1, 1, tzinfo=UTC)
    hook.run(
        "INSERT INTO sales VALUES (1, 'eu', 10.50, %s), (2, 'us', 3, %s), (3, 'eu', 1, %s)",
        parameters=(day, day + timedelta(days=1), day + timedelta(days=2)),
    )
    rows = hook.get_records(
        "SELECT order_id, region, amount FROM sales WHERE order_date >= %s AND order_date < %s "
        "ORDER BY order_id",
        parameters=(day, day + timedelta(days=2)),
    )
    assert rows == [(1, "eu", Decimal("10.50")), (2, "us", Decimal("3.00"))]
    assert hook.get_first("SELECT count(*) FROM sales WHERE region = %(r)s",
                          parameters={"r": "eu"}) == (2,)
    assert hook.get_first("SELECT * FROM sales WHERE order_id = %s", parameters=(99,)) is None
    # a literal % with no parameters is not a placeholder
    assert hook.get_first("SELECT 'a%b'") == ("a%b",)


def test_run_commits_all_statements_or_none(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE t (id int PRIMARY KEY)")
    with pytest.raises(psycopg.errors.UniqueViolation) as caught:
        hook.run(["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)"])
    assert any("pg_test" in note for note in caught.value.__notes__)
    assert hook.get_records("SELECT id FROM t") == []  # the first insert was rolled back

    hook.run(["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (2)"])
    assert hook.get_records("SELECT id FROM t ORDER BY id") == [(1,), (2,)]


def test_autocommit_keeps_statements_that_ran_before_a_failure(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE t (id int PRIMARY KEY)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        hook.run(["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)"], autocommit=True)
    assert hook.get_records("SELECT id FROM t") == [(1,)]


def test_run_result_shapes_with_handler_split_and_return_last(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    script = "SELECT 1 AS a; SELECT 'x;y' AS b; -- trailing comment"
    assert hook.run(script, handler=fetch_all_handler) == [("x;y",)]  # one call, last result
    assert hook.run(script, handler=fetch_all_handler, split_statements=True,
                    return_last=False) == [[(1,)], [("x;y",)]]
    assert [d[0].name for d in hook.descriptions] == ["a", "b"]
    assert hook.run(["SELECT 1", "SELECT 2"], handler=fetch_all_handler) == [[(1,)], [(2,)]]
    assert hook.run("SELECT 1") is None  # no handler, no result
    with pytest.raises(ValueError, match="no SQL statement"):
        hook.run("   ")


def test_the_articles_idempotent_load_deletes_then_inserts_the_interval(pg_conn_id: str) -> None:
    hook = PostgresHook(postgres_conn_id=pg_conn_id)
    hook.run("CREATE TABLE staging_sales (order_id int, amount numeric, order_date timestamptz)")
    hook.run("CREATE TABLE fact_sales (order_id int, amount numeric, order_date timestamptz)")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=1)
    hook.insert_rows("staging_sales", [(1, 5, start), (2, 7, start + timedelta(hours=5)),
                                       (3, 9, end)])
    for _ in range(2):  # a rerun gives the same table
        hook.run("DELETE FROM fact_sales WHERE order_date >= %s AND order_date < %s",
                 parameters=(start, end))
        hook.run(
            "INSERT INTO fact_sales SELECT * FROM staging_sales "
            "WHERE order_date >= %s AND order_date < %s",
            parameters=(start, end),
        )
    assert hook.get_first("SELECT count(*), sum(amount) FROM fact_sales") == (2, Decimal(12))


def test_insert_rows_in_batches_from_a_generator(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE t (id int PRIMARY KEY, name text)")
    count = hook.insert_rows("t", ((i, f"n{i}") for i in range(2500)),
                             target_fields=["id", "name"], commit_every=1000)
    assert count == 2500
    assert hook.get_first("SELECT count(*), min(id), max(id) FROM t") == (2500, 0, 2499)
    assert hook.insert_rows("t", []) == 0


def test_insert_rows_rejects_a_row_of_the_wrong_width_naming_it(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE t (id int, name text)")
    with pytest.raises(ValueError, match=r"insert_rows into 't': row 2 has 1 values, expected 2"):
        hook.insert_rows("t", [(1, "a"), (2, "b"), (3,)], commit_every=0)
    assert hook.get_records("SELECT * FROM t") == []  # one batch, never committed


def test_upsert_updates_rows_whose_key_exists_and_inserts_the_others(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE dim_customers (customer_id int PRIMARY KEY, name text, email text)")
    fields = ["customer_id", "name", "email"]
    hook.insert_rows("dim_customers", [(1, "Ann", "ann@old"), (2, "Bob", "bob@x")],
                     target_fields=fields)
    hook.insert_rows("dim_customers", [(1, "Ann B", "ann@new"), (3, "Cy", "cy@x")],
                     target_fields=fields, replace=True, replace_index="customer_id")
    assert hook.get_records("SELECT * FROM dim_customers ORDER BY customer_id") == [
        (1, "Ann B", "ann@new"), (2, "Bob", "bob@x"), (3, "Cy", "cy@x"),
    ]
    # every field is part of the key: nothing to update, existing rows stay
    hook.run("CREATE TABLE tags (a int, b int, PRIMARY KEY (a, b))")
    hook.insert_rows("tags", [(1, 1)], target_fields=["a", "b"])
    hook.insert_rows("tags", [(1, 1), (1, 2)], target_fields=["a", "b"], replace=True,
                     replace_index=["a", "b"])
    assert hook.get_records("SELECT * FROM tags ORDER BY b") == [(1, 1), (1, 2)]


def test_upsert_without_its_key_is_a_clear_error(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    with pytest.raises(ValueError, match="needs replace_index"):
        hook.insert_rows("t", [(1, "a")], target_fields=["id", "name"], replace=True)
    with pytest.raises(ValueError, match="needs target_fields"):
        hook.insert_rows("t", [(1, "a")], replace=True, replace_index="id")
    with pytest.raises(ValueError, match=r"replace_index columns \['key'\] are not in"):
        hook.insert_rows("t", [(1, "a")], target_fields=["id", "name"], replace=True,
                         replace_index="key")


def test_copy_rows_streams_100k_rows(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE events (id bigint, label text, amount numeric, at timestamptz)")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = ((i, f"label {i}\tq", Decimal(i) / 4, start + timedelta(seconds=i))
            for i in range(100_000))
    assert hook.copy_rows("events", rows, columns=["id", "label", "amount", "at"]) == 100_000
    count, total, last = hook.get_first("SELECT count(*), sum(amount), max(at) FROM events")
    assert count == 100_000
    assert total == Decimal(sum(range(100_000))) / 4
    assert last == start + timedelta(seconds=99_999)
    assert hook.get_first("SELECT label FROM events WHERE id = 7") == ("label 7\tq",)


def test_bulk_load_100k_rows_from_a_file_and_dump_them_back(pg_conn_id: str,
                                                            tmp_path: Path) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE t (id int, name text)")
    source = tmp_path / "rows.tsv"
    source.write_text("".join(f"{i}\tname {i}\n" for i in range(100_000)))
    assert hook.bulk_load("t", source) == 100_000
    assert hook.get_first("SELECT count(*), sum(id) FROM t") == (100_000, sum(range(100_000)))

    dump = tmp_path / "dump.tsv"
    dump.write_text("stale content that must be replaced\n" * 10)
    assert hook.bulk_dump("t", dump) == 100_000
    assert sorted(dump.read_text().splitlines()) == sorted(source.read_text().splitlines())


def test_copy_expert_with_a_csv_statement_and_a_missing_file(pg_conn_id: str,
                                                             tmp_path: Path) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE t (id int, name text)")
    csv_file = tmp_path / "in.csv"
    csv_file.write_text('id,name\n1,"a, b"\n2,c\n')
    assert hook.copy_expert("COPY t FROM STDIN WITH (FORMAT csv, HEADER true)", csv_file) == 2
    assert hook.get_records("SELECT * FROM t ORDER BY id") == [(1, "a, b"), (2, "c")]
    with pytest.raises(FileNotFoundError) as caught:
        hook.copy_expert("COPY t FROM STDIN", tmp_path / "missing.tsv")
    assert any("missing.tsv" in note for note in caught.value.__notes__)
    assert hook.get_first("SELECT count(*) FROM t") == (2,)


def test_sqlalchemy_engine_and_uri_reach_the_same_schema(pg_conn_id: str) -> None:
    hook = PostgresHook(pg_conn_id)
    hook.run("CREATE TABLE t (id int)")
    hook.insert_rows("t", [(1,), (2,)])
    assert hook.sqlalchemy_url.startswith("postgresql+psycopg://")
    engine = hook.get_sqlalchemy_engine()
    assert hook.get_sqlalchemy_engine() is engine
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
    engine.dispose()
    with psycopg.connect(hook.get_uri()) as direct:
        assert direct.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_dict_rows_from_the_cursor_extra(pg_conn_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = PostgresHook(pg_conn_id).connection.get_uri()
    monkeypatch.setenv("MILLSTREAM_CONN_PG_DICT", uri + "&cursor=realdictcursor")
    hook = PostgresHook(postgres_conn_id="pg_dict")
    assert hook.get_records("SELECT 1 AS a, 'x' AS b") == [{"a": 1, "b": "x"}]
    monkeypatch.setenv("MILLSTREAM_CONN_PG_BAD", uri + "&cursor=fancy")
    with pytest.raises(ValueError, match="unknown cursor 'fancy'"):
        PostgresHook(postgres_conn_id="pg_bad").get_records("SELECT 1")


def test_get_hook_picks_the_class_by_connection_type(pg_conn_id: str) -> None:
    hook = BaseHook.get_hook(pg_conn_id)
    assert isinstance(hook, PostgresHook)
    assert hook.get_first("SELECT 40 + 2") == (42,)
    with pytest.raises(HookError, match="connection 'ftp1': no hook for connection type 'ftp'"):
        get_hook(Connection("ftp1", conn_type="ftp", host="example.com"))


def test_missing_connection_names_the_id() -> None:
    with using_store(MemoryStore()), pytest.raises(ConnectionNotFound, match="'nowhere_db'"):
        PostgresHook(postgres_conn_id="nowhere_db").get_records("SELECT 1")


def test_get_pandas_df_without_pandas_says_how_to_install_it(
        pg_conn_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # as on a machine without the extra
    with pytest.raises(HookError, match=r"needs pandas.*millstream\[pandas\]"):
        PostgresHook(pg_conn_id).get_pandas_df("SELECT 1")


def test_test_connection_reports_success_and_failure(pg_conn_id: str) -> None:
    assert PostgresHook(pg_conn_id).test_connection() == (True, "Connection successfully tested")
    broken = get_hook(Connection("broken", conn_type="postgres", host="127.0.0.1", port=1,
                                 schema="test", login="postgres"))
    ok, message = broken.test_connection()  # type: ignore[attr-defined]
    assert not ok and "OperationalError" in message
