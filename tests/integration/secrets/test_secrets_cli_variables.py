"""``millstream variables set|get|list|delete|import|export`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cli_helpers import Cli, assert_one_line_error

from millstream.cli.common import open_store


def listed(cli: Cli) -> dict[str, object]:
    return {v["key"]: v["value"] for v in json.loads(cli.ok("variables", "list", "--json"))}


def test_set_get_list_and_delete(secrets_cli: Cli) -> None:
    cli = secrets_cli
    code, out, err = cli("variables", "set", "environment", "production",
                         "--description", "where this runs")
    assert (code, out.strip()) == (0, "variable environment set"), err
    assert "generated a Fernet key" in err
    cli.ok("variables", "set", "limits", '{"batch": 500, "tables": ["a", "b"]}', "--json")
    cli.ok("variables", "set", "stripe_api_key", "sk-live-0123456789")

    assert cli.ok("variables", "get", "environment") == "production\n"
    assert json.loads(cli.ok("variables", "get", "limits", "--json")) == {
        "batch": 500, "tables": ["a", "b"]}
    assert cli.ok("variables", "get", "stripe_api_key") == "***\n"
    assert cli.ok("variables", "get", "stripe_api_key", "--reveal") == "sk-live-0123456789\n"
    assert cli.ok("variables", "get", "nothing", "--default", "dflt") == "dflt\n"

    assert listed(cli) == {"environment": "production",
                           "limits": '{"batch": 500, "tables": ["a", "b"]}',
                           "stripe_api_key": "***"}
    table = cli.ok("variables", "list")
    assert "where this runs" in table and "***" in table
    assert "sk-live-0123456789" not in table

    cli.ok("variables", "set", "environment", "staging")  # the description stays
    rows = json.loads(cli.ok("variables", "list", "--json"))
    assert rows[0] == {"key": "environment", "value": "staging",
                       "description": "where this runs", "is_encrypted": True}
    assert cli.ok("variables", "delete", "limits").strip() == "variable limits deleted"
    assert list(listed(cli)) == ["environment", "stripe_api_key"]
    with open_store() as store:
        events = [(a.event, a.extra.get("key")) for a in store.audit.list()]
        assert all("sk-live" not in json.dumps(a.extra) for a in store.audit.list())
    assert events[0] == ("variable_delete", "limits")
    assert events.count(("variable_set", "environment")) == 2


def test_environment_variables_are_seen_by_get(secrets_cli: Cli,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLSTREAM_VAR_FROM_ENV", "env value")
    assert secrets_cli.ok("variables", "get", "from_env") == "env value\n"


def test_import_and_export(secrets_cli: Cli, tmp_path: Path) -> None:
    cli = secrets_cli
    source = tmp_path / "in.json"
    source.write_text(json.dumps({"a": "text", "config": {"n": [1, 2]}, "db_password": "pw-9876"}))
    assert cli.ok("variables", "import", str(source)).strip() == (
        f"imported 3 variable(s) from {source}")
    target = tmp_path / "out.json"
    target.write_text("old content")
    target.chmod(0o644)
    assert cli.ok("variables", "export", str(target)).strip() == (
        f"exported 3 variable(s) to {target}")
    assert json.loads(target.read_text()) == {
        "a": "text", "config": '{"n": [1, 2]}', "db_password": "pw-9876"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # it holds secrets in plain text
    cli.ok("variables", "delete", "a")
    cli.ok("variables", "import", str(target))  # an export imports back as it was
    assert cli.ok("variables", "get", "config") == '{"n": [1, 2]}\n'
    assert cli.ok("variables", "get", "a") == "text\n"


@pytest.mark.parametrize(("content", "fragment"), [
    ('{"good": "1", "bad key": "2"}', "variable key 'bad key' holds ' '"),
    ("[1, 2]", "must hold one JSON object of key -> value, got list"),
    ("{nope", "is not valid JSON"),
])
def test_a_bad_import_changes_nothing(secrets_cli: Cli, tmp_path: Path, content: str,
                                      fragment: str) -> None:
    secrets_cli.ok("variables", "set", "good", "before")
    source = tmp_path / "bad.json"
    source.write_text(content)
    code, _, err = secrets_cli("variables", "import", str(source))
    assert code == 2, err
    assert_one_line_error(err, fragment)
    assert listed(secrets_cli) == {"good": "before"}


@pytest.mark.parametrize(("args", "fragment"), [
    (("set", "bad key", "v"), "variable key 'bad key' holds ' '"),
    (("set", "k", "{not json", "--json"), "variable 'k': VALUE (--json) is not valid JSON"),
    (("get", "missing"), "variable 'missing' does not exist (looked in env var "
                         "MILLSTREAM_VAR_MISSING"),
    (("get", "plain", "--json"), "variable 'plain' is not valid JSON"),
    (("delete", "missing"), "no variable 'missing' in the database"),
    (("import", "/nonexistent/file.json"), "cannot read /nonexistent/file.json"),
    (("export", "/nonexistent/dir/out.json"), "cannot write /nonexistent/dir/out.json"),
])
def test_bad_input_is_one_line_and_changes_nothing(secrets_cli: Cli, args: tuple[str, ...],
                                                   fragment: str) -> None:
    secrets_cli.ok("variables", "set", "plain", "text")
    code, out, err = secrets_cli("variables", *args)
    assert code == 2, out + err
    assert_one_line_error(err, fragment)
    assert listed(secrets_cli) == {"plain": "text"}
