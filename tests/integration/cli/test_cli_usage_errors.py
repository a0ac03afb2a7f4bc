"""A command line the CLI cannot parse gets one line naming what is wrong and where to read
the usage, and exit code 2, as every other bad input does: no box, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def millstream(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
    env["MILLSTREAM_HOME"] = str(tmp_path / "home")
    env["COLUMNS"] = "80"
    return subprocess.run(
        [sys.executable, "-m", "millstream.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "wrong", "usage_of"),
    [
        (("dags", "trigger"), "Missing argument 'dag_id'", "millstream dags trigger"),
        (("dags", "list", "--nope"), "No such option: --nope", "millstream dags list"),
        (("nope",), "No such command 'nope'", "millstream"),
        (("pools", "set", "p", "1e23"), "Invalid value for 'slots'", "millstream pools set"),
        (("dags", "list", "extra"), "Got unexpected extra argument", "millstream dags list"),
    ],
)
def test_a_usage_error_is_one_line_and_exit_code_2(
    tmp_path: Path, args: tuple[str, ...], wrong: str, usage_of: str
) -> None:
    result = millstream(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {wrong}"), lines[0]
    assert lines[0].endswith(f"(see `{usage_of} --help`)"), lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "home").exists(), "a command that did not run changed nothing"


def test_help_and_version_still_exit_0(tmp_path: Path) -> None:
    shown = millstream(tmp_path, "dags", "list", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "Usage: millstream dags list" in shown.stdout
    version = millstream(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("millstream ")


def test_a_command_failing_on_bad_input_keeps_its_own_exit_code(tmp_path: Path) -> None:
    result = millstream(tmp_path, "dags", "trigger", "no_such_dag")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith("Error: no DAG 'no_such_dag'")
