"""What an Airflow user types out of habit works: --version, backfill's --start-date and
--end-date (-s, -e), and a shell pointed at another home is told its database is new."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_helpers import Cli

import millstream
from millstream.cli.common import command_name, open_store


def test_version_is_an_option_as_in_airflow_and_a_command(cli: Cli) -> None:
    assert cli.ok("--version").strip() == f"millstream {millstream.__version__}"
    assert cli.ok("version").strip() == f"millstream {millstream.__version__}"


@pytest.mark.parametrize("start, end", [("--start-date", "--end-date"), ("-s", "-e"),
                                        ("--start", "--end")])
def test_backfill_takes_airflows_option_names(cli: Cli, start: str, end: str) -> None:
    cli.seed()
    out = cli.ok("dags", "backfill", "pipeline", start, "2026-01-02", end, "2026-01-03",
                 "--no-wait")
    assert "created 2 backfill run(s)" in out
    code, _, err = cli("dags", "backfill", "pipeline", start, "not-a-date", end, "2026-01-03")
    assert code == 2 and "--start-date" in err


def test_a_command_that_finds_no_database_says_it_made_an_empty_one(cli: Cli) -> None:
    code, _, err = cli("dags", "list")
    assert code == 0
    assert "note: there was no millstream database at" in err
    assert f"set MILLSTREAM_HOME (here {cli.home})" in err
    code, _, err = cli("dags", "list")
    assert code == 0 and "note:" not in err


def test_the_command_to_show_is_millstream_when_on_the_path(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    script = tmp_path / "bin" / "millstream"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(script), "standalone"])
    monkeypatch.setenv("PATH", "/nowhere")
    monkeypatch.chdir(tmp_path)
    assert command_name() == os.path.join("bin", "millstream")
    monkeypatch.setenv("PATH", str(script.parent))
    assert command_name() == "millstream"
    monkeypatch.setattr(sys, "argv", ["/some/python", "-m", "millstream"])
    assert command_name() == "millstream"


def test_dags_test_runs_a_dag_the_database_knows_from_outside_the_dags_folder(
        cli: Cli, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli.seed()  # creates the database, with the pipeline of the dags folder
    (cli.home / "dags" / "pipeline.py").rename(elsewhere / "pipeline.py")
    with open_store() as store:
        store.dags.upsert("manual_only", str(elsewhere / "pipeline.py"), "{}", "v1",
                          datetime.now(UTC))
    code, out, err = cli("dags", "test", "manual_only")
    assert code == 0, out + err
    assert "success" in out


def test_dags_test_of_an_unknown_dag_creates_no_database(cli: Cli) -> None:
    code, _, err = cli("dags", "test", "nowhere_dag")
    assert code == 2 and "nowhere_dag" in err
    assert not (cli.home / "millstream.db").exists()
