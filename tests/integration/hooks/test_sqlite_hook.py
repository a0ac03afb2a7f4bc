"""SqliteHook on a database file: queries, scripts, inserts, REPLACE and its engine."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from millstream.hooks import HookError, get_hook
from millstream.hooks.dbapi import fetch_all_handler
from millstream.hooks.sqlite import SqliteHook
from millstream.secrets import Connection


@pytest.fixture
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.db"
    monkeypatch.setenv("MILLSTREAM_CONN_LOCAL_DB", f"sqlite:///{path}")
    return path


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_the_uri_path_is_the_database_file(db_file: Path) -> None:
    hook = SqliteHook(sqlite_conn_id="local_db")
    assert hook.path == str(db_file)
    hook.run("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    assert db_file.exists()
    assert hook.get_uri() == f"sqlite:///{db_file}"


def test_the_host_field_names_the_file_as_in_airflow(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "by_host.db"
    monkeypatch.setenv("MILLSTREAM_CONN_BY_HOST",
                       json.dumps({"conn_type": "sqlite", "host": str(path)}))
    SqliteHook(sqlite_conn_id="by_host").run("CREATE TABLE t (x)")
    assert _count(path, "t") == 0


def test_a_script_runs_statement_by_statement_in_one_transaction(db_file: Path) -> None:
    hook = SqliteHook("local_db")
    hook.run("""
        CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT);
        INSERT INTO t VALUES (1, 'semi;colon');  -- a comment; with a semicolon
        INSERT INTO t VALUES (2, 'it''s');
    """)
    assert hook.get_records("SELECT * FROM t ORDER BY id") == [(1, "semi;colon"), (2, "it's")]
    with pytest.raises(sqlite3.IntegrityError):
        hook.run("INSERT INTO t VALUES (3, 'new'); INSERT INTO t VALUES (1, 'dup')")
    assert _count(db_file, "t") == 2  # the first insert was rolled back with the second


def test_parameters_by_position_and_by_name(db_file: Path) -> None:
    hook = SqliteHook("local_db")
    hook.run("CREATE TABLE t (id INTEGER, region TEXT)")
    hook.insert_rows("t", [(1, "eu"), (2, "us"), (3, "eu")])
    assert hook.get_records("SELECT id FROM t WHERE region = ? ORDER BY id",
                            parameters=("eu",)) == [(1,), (3,)]
    assert hook.get_first("SELECT count(*) FROM t WHERE id > :low",
                          parameters={"low": 1}) == (2,)
    assert hook.run("SELECT 1; SELECT 2", handler=fetch_all_handler,
                    return_last=False) == [[(1,)], [(2,)]]


def test_insert_rows_replace_is_replace_into(db_file: Path) -> None:
    hook = SqliteHook("local_db")
    hook.run("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    hook.insert_rows("t", [(1, "a"), (2, "b")], target_fields=["id", "name"])
    with pytest.raises(sqlite3.IntegrityError):
        hook.insert_rows("t", [(1, "again")], target_fields=["id", "name"])
    assert hook.insert_rows("t", [(1, "A"), (3, "c")], target_fields=["id", "name"],
                            replace=True) == 2
    assert hook.get_records("SELECT * FROM t ORDER BY id") == [(1, "A"), (2, "b"), (3, "c")]
    with pytest.raises(TypeError, match="unknown arguments: replace_index"):
        hook.insert_rows("t", [(1, "x")], replace=True, replace_index="id")


def test_insert_rows_commits_each_batch(db_file: Path) -> None:
    hook = SqliteHook("local_db")
    hook.run("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    rows = [(i,) for i in range(5)] + [(2,)]  # the duplicate is in the third batch
    with pytest.raises(sqlite3.IntegrityError):
        hook.insert_rows("t", rows, commit_every=2)
    assert _count(db_file, "t") == 4  # the first two batches were committed
    with pytest.raises(ValueError, match="row 0 must be a tuple or list of values, got str"):
        hook.insert_rows("t", ["abc"])


def test_autocommit_keeps_what_ran_before_a_failure(db_file: Path) -> None:
    hook = SqliteHook("local_db")
    hook.run("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    with pytest.raises(sqlite3.IntegrityError):
        hook.run(["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)"], autocommit=True)
    assert _count(db_file, "t") == 1


def test_sqlalchemy_engine_reads_the_same_file(db_file: Path) -> None:
    hook = SqliteHook("local_db")
    hook.run("CREATE TABLE t (id INTEGER)")
    hook.insert_rows("t", [(1,), (2,), (3,)])
    engine = hook.get_sqlalchemy_engine()
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT sum(id) FROM t").scalar() == 6
    finally:
        engine.dispose()


def test_get_hook_and_bad_arguments(db_file: Path) -> None:
    hook = get_hook(Connection("mem", conn_type="sqlite"))
    assert isinstance(hook, SqliteHook) and hook.path == ":memory:"
    assert hook.get_first("SELECT 2 * 21") == (42,)
    with pytest.raises(TypeError, match="unknown arguments: sqlite_connid"):
        SqliteHook(sqlite_connid="local_db")
    with pytest.raises(TypeError, match="takes one connection id"):
        SqliteHook("a", sqlite_conn_id="b")


def test_get_pandas_df_without_pandas_is_a_clear_error(db_file: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(HookError, match="needs pandas, which is not installed"):
        SqliteHook("local_db").get_pandas_df("SELECT 1")


def test_get_pandas_df_builds_a_frame_with_the_column_names(db_file: Path) -> None:
    pd = pytest.importorskip("pandas")  # the optional extra
    hook = SqliteHook("local_db")
    hook.run("CREATE TABLE t (id INTEGER, region TEXT)")
    hook.insert_rows("t", [(1, "eu"), (2, "us")])
    frame = hook.get_pandas_df("SELECT * FROM t WHERE id >= ?", parameters=(1,))
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["id", "region"]
    assert frame.to_dict("records") == [{"id": 1, "region": "eu"}, {"id": 2, "region": "us"}]
