"""``millstream dags check``: a DAG folder checked as the scheduler loads it, for CI/CD."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from cli_helpers import Cli, assert_one_line_error

GOOD = """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator
    from millstream.operators.sql import SQLExecuteQueryOperator

    with DAG("loads", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        EmptyOperator(task_id="stage", pool="etl") >> SQLExecuteQueryOperator(
            task_id="load", conn_id="warehouse", sql="SELECT 1")
        # only known when the task runs: not checked
        SQLExecuteQueryOperator(task_id="later", conn_id="{{ params.target }}", sql="SELECT 1")
        SQLExecuteQueryOperator.partial(task_id="each", conn_id="archive").expand(
            sql=["SELECT 1", "SELECT 2"])
"""
CYCLE = """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator

    with DAG("loops", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        a >> b >> a
"""
BROKEN = """
    from millstream import DAG
    import a_module_nobody_installed
"""


def write(folder: Path, name: str, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def problems(cli: Cli, *args: str) -> tuple[int, set[tuple[str, str, str | None, str | None]]]:
    code, out, err = cli("dags", "check", *args, "--json")
    report = json.loads(out)
    assert report["ok"] is (code == 0), err
    return code, {(p["kind"], Path(p["file"]).name, p["dag_id"], p["task_id"])
                  for p in report["problems"]}


def test_every_kind_of_problem_is_found_and_fixing_them_passes(
    backend_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = backend_cli
    dags = cli.home / "dags"
    write(dags, "loads.py", GOOD)
    write(dags, "loops.py", CYCLE)
    write(dags, "broken.py", BROKEN)
    code, found = problems(cli)
    assert code == 1
    assert found == {
        ("import_error", "broken.py", None, None),
        ("cycle", "loops.py", None, None),
        ("unknown_pool", "loads.py", "loads", "stage"),
        ("missing_connection", "loads.py", "loads", "load"),
        ("missing_connection", "loads.py", "loads", "each"),
    }
    code, out, _ = cli("dags", "check")
    assert code == 1
    for words in ("import error", "a_module_nobody_installed", "cycle", "a -> b -> a",
                  "unknown pool", "pool 'etl' does not exist", "missing connection",
                  "'warehouse'", "3 file(s), 1 DAG(s): 5 problem(s)"):
        assert words in out, out

    (dags / "broken.py").unlink()
    (dags / "loops.py").unlink()
    cli.ok("pools", "set", "etl", "2")
    cli.ok("connections", "add", "warehouse", "--conn-uri", "postgres://dwh@db:5432/dwh")
    code, found = problems(cli)
    assert (code, found) == (1, {("missing_connection", "loads.py", "loads", "each")})
    secrets = cli.home / "secrets.yaml"
    secrets.write_text("connections:\n  archive: postgres://arch@db:5432/archive\n")
    monkeypatch.setenv("MILLSTREAM__SECRETS__SECRETS_FILE", str(secrets))
    code, out, _ = cli("dags", "check")
    assert code == 0 and "1 file(s), 1 DAG(s): no problems" in out


def test_connections_from_the_environment_count_and_no_database_skips_pools(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(cli.home / "dags", "loads.py", GOOD)
    monkeypatch.setenv("MILLSTREAM_CONN_WAREHOUSE", "postgres://dwh@db:5432/dwh")
    monkeypatch.setenv("MILLSTREAM_CONN_ARCHIVE", "postgres://arch@db:5432/archive")
    code, found = problems(cli)
    assert (code, found) == (1, {("unknown_pool", "loads.py", "loads", "stage")})
    assert not (cli.home / "millstream.db").exists()  # checked, never created
    code, found = problems(cli, "--no-database")
    assert (code, found) == (0, set())
    code, out, _ = cli("dags", "check", str(cli.home / "dags" / "loads.py"), "--no-database")
    assert code == 0 and "1 file(s), 1 DAG(s): no problems" in out


def test_a_dag_id_defined_twice_is_an_import_error_of_the_second_file(cli: Cli) -> None:
    dags = cli.home / "dags"
    write(dags, "a_first.py", CYCLE.replace("a >> b >> a", "a >> b"))
    write(dags, "b_second.py", CYCLE.replace("a >> b >> a", "b >> a"))
    code, found = problems(cli, "--no-database")
    assert (code, found) == (1, {("import_error", "b_second.py", "loops", None)})
    _, out, _ = cli("dags", "check", "--no-database")
    assert "DuplicateDagId" in out and "a_first.py" in out


def test_a_missing_folder_is_a_one_line_error(cli: Cli) -> None:
    code, _, err = cli("dags", "check", str(cli.home / "nowhere"))
    assert code == 2
    assert_one_line_error(err, "no such DAG folder or file", "nowhere")
