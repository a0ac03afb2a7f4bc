"""``millstream dags test``: the table and exit codes, in process and as a real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from millstream.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
CONDITIONAL = ROOT / "examples" / "dags" / "conditional_pipeline.py"
CONDITIONAL_TASKS = (
    "start", "assess_data_volume", "choose_processing_path", "process_small_batch",
    "process_medium_batch", "process_large_batch", "join", "finalize",
)

FAILING_DAG = """
    from millstream import DAG
    from millstream.operators.empty import EmptyOperator
    from millstream.operators.python import PythonOperator

    def explode():
        raise RuntimeError("the source is gone")

    with DAG("failing_dag", schedule=None) as dag:
        PythonOperator(task_id="explode", python_callable=explode) >> EmptyOperator(task_id="after")
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# Variables that would make rich colour captured output and so break the table parsing.
FORCING_COLOUR = ("FORCE_COLOR", "TTY_COMPATIBLE")


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=dict.fromkeys(FORCING_COLOUR))
    return result.exit_code, result.stdout, result.stderr


def row_state(output: str, task_id: str) -> str:
    """The state cell of a task's row in the printed table."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.replace("│", "|").split("|")]
        if task_id in cells:
            return cells[cells.index(task_id) + 1]
    raise AssertionError(f"no row for {task_id!r} in:\n{output}")


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_version(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "version")
    assert code == 0
    assert out.startswith("millstream ")


def test_example_run_prints_each_task_and_state(runner: CliRunner) -> None:
    code, out, err = invoke(
        runner, "dags", "test", str(CONDITIONAL), "--logical-date", "2026-01-01"
    )
    assert code == 0, out + err
    for task_id in CONDITIONAL_TASKS:
        assert task_id in out
    assert row_state(out, "process_medium_batch") == "success"
    assert row_state(out, "process_small_batch") == "skipped"
    assert row_state(out, "finalize") == "success"
    assert "run manual__2026-01-01T00:00:00+00:00: success" in out


def test_conf_is_passed_to_the_run(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "dags", "test", str(CONDITIONAL),
                          "--conf", json.dumps({"record_count": 90000}))
    assert code == 0
    assert row_state(out, "process_large_batch") == "success"
    assert row_state(out, "process_medium_batch") == "skipped"


def test_lookup_by_dag_id_in_a_dags_folder(runner: CliRunner) -> None:
    code, out, _ = invoke(runner, "dags", "test", "parallel_data_sync",
                          "--dags-folder", str(ROOT / "examples" / "dags"))
    assert code == 0
    assert row_state(out, "process_shipments") == "success"


def test_failing_run_exits_1_and_shows_the_error(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "failing.py"
    path.write_text(textwrap.dedent(FAILING_DAG))
    code, out, _ = invoke(runner, "dags", "test", str(path))
    assert code == 1
    assert row_state(out, "explode") == "failed"
    assert row_state(out, "after") == "upstream_failed"
    assert "explode: RuntimeError: the source is gone" in out
    assert ": failed" in out.splitlines()[-1]


def test_unknown_dag_id_exits_2_with_one_line(runner: CliRunner, tmp_path: Path) -> None:
    code, out, err = invoke(runner, "dags", "test", "no_such_dag", "--dags-folder", str(tmp_path))
    assert code == 2
    assert out == ""
    assert_one_line_error(err, "'no_such_dag'", str(tmp_path))


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--conf", "{not json"], "--conf is not valid JSON"),
        (["--conf", "[1, 2]"], "--conf must be a JSON object"),
        (["--conf", '{"record_count": "many"}'], "'record_count'"),
        (["--logical-date", "yesterday"], "bad logical date 'yesterday'"),
        (["--dag-id", "other"], "'other' is not defined"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    runner: CliRunner, args: list[str], fragment: str
) -> None:
    code, _, err = invoke(runner, "dags", "test", str(CONDITIONAL), *args)
    assert code == 2
    assert_one_line_error(err, fragment)


def test_dag_file_with_a_syntax_error_exits_2_naming_file_and_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "broken_dag.py"
    path.write_text(
        "from millstream import DAG\n\nwith DAG('broken', schedule=None) as dag\n    pass\n"
    )
    code, _, err = invoke(runner, "dags", "test", str(path))
    assert code == 2
    assert_one_line_error(err, f"{path}, line 3", "SyntaxError")


def test_dag_file_raising_on_import_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "raising_dag.py"
    path.write_text("import millstream\n\nraise KeyError('MISSING_SETTING')\n")
    code, _, err = invoke(runner, "dags", "test", str(path))
    assert code == 2
    assert_one_line_error(err, f"{path}, line 3", "KeyError")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in FORCING_COLOUR}
    return subprocess.run(
        [sys.executable, "-m", "millstream.cli.main", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def test_real_command_runs_an_example(tmp_path: Path) -> None:
    done = run_cli("dags", "test", "examples/dags/conditional_pipeline.py", cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for task_id in CONDITIONAL_TASKS:
        assert task_id in done.stdout
    assert row_state(done.stdout, "join") == "success"
    assert "Traceback" not in done.stderr


def test_real_command_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(textwrap.dedent(FAILING_DAG))
    failed = run_cli("dags", "test", "failing.py", cwd=tmp_path)
    assert failed.returncode == 1
    assert row_state(failed.stdout, "explode") == "failed"

    unknown = run_cli("dags", "test", "ghost", "--dags-folder", str(tmp_path), cwd=tmp_path)
    assert unknown.returncode == 2
    assert_one_line_error(unknown.stderr, "'ghost'")


def test_importing_millstream_does_not_load_the_cli_libraries() -> None:
    # The CLI's libraries cost import time that DAG files and workers should not pay.
    code = (
        "import sys, millstream, millstream.parsing; "
        "print(sorted({'typer', 'rich'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
