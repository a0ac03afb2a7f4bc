"""The CLI refuses what the API refuses, in one line with exit 2, and stores nothing:
identifiers off their rule, deep or huge JSON, numbers and dates out of range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Cli, assert_one_line_error

from millstream.cli.common import open_store


def deep_json(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "{}" + "}" * (levels - 1)


def run_count(cli: Cli) -> int:
    with open_store() as store:
        return len(store.runs.list("pipeline"))


@pytest.mark.parametrize("args, fragment", [
    (("--run-id", "../x"), "run id '../x' holds '/'"),
    (("--run-id", "with space"), "run id 'with space' holds ' '"),
    (("--run-id", "new\nline"), "run id 'new\\nline' holds '\\n'"),
    (("--run-id", ".."), "run id '..' is only dots"),
    (("--conf", deep_json(900)), "--conf nests deeper than 64 levels"),
    (("--conf", deep_json(100_000)), "--conf nests deeper than 64 levels"),
    (("--conf", json.dumps({"blob": "x" * (1024 * 1024)})), "at most 1048576 are allowed"),
    (("--logical-date", "9999-12-31T23:59:59-14:00"), "is out of range"),
])
def test_a_bad_trigger_is_one_line_and_stores_no_run(cli: Cli, args: tuple[str, ...],
                                                       fragment: str) -> None:
    cli.seed()
    code, _, err = cli("dags", "trigger", "pipeline", *args)
    assert code == 2, err
    assert_one_line_error(err, fragment)
    assert run_count(cli) == 0


@pytest.mark.parametrize("args, fragment", [
    (("pools", "set", "p", "1e23"), "Invalid value for 'slots'"),
    (("pools", "set", "p", str(10**23)), "slots must be a whole number from 0 to 1000000"),
    (("pools", "set", "a/b", "3"), "pool name 'a/b' holds '/'"),
])
def test_a_bad_pool_is_refused_in_one_line(cli: Cli, args: tuple[str, ...],
                                           fragment: str) -> None:
    code, out, err = cli(*args)
    assert code == 2, out + err
    assert fragment in err and "Traceback" not in out + err
    with open_store() as store:
        assert [name for name, _, _ in store.pools.list()] == ["default_pool"]


def test_a_deep_variables_file_is_refused_in_one_line(cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "vars.json"
    source.write_text('{"ok": 1, "deep": ' + deep_json(100_000) + "}")
    code, _, err = cli("variables", "import", str(source))
    assert code == 2
    assert_one_line_error(err, f"{source} nests deeper than 64 levels")
    with open_store() as store:
        assert store.variables.list() == []


def test_a_token_lasting_longer_than_ten_years_is_refused(cli: Cli) -> None:
    code, out, err = cli("tokens", "create", "--user", "ann", "--expires-in-days", "1e20")
    assert code == 2
    assert "Invalid value for '--expires-in-days'" in err and "Traceback" not in out + err
