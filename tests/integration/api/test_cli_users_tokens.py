"""``millstream users`` and ``millstream tokens``: accounts made on the command line work
against the REST API; bad input is one line naming the problem and changes nothing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from millstream.api.accounts import authenticate
from millstream.cli.main import app
from millstream.config import load_settings
from millstream.store.sql import SqlStore
from millstream.ui.server import create_app
from tests.autocommit import autocommit


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    for name in list(os.environ):
        if name.startswith("MILLSTREAM"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):  # they would colour captured output
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    runner = CliRunner()
    # The database exists, as it does wherever users are managed: no "new database" note.
    assert runner.invoke(app, ["db", "migrate"]).exit_code == 0
    yield runner


def run(cli: CliRunner, *args: str, stdin: str | None = None) -> Result:
    return cli.invoke(app, list(args), input=stdin)


def store_of(home: Path) -> SqlStore:
    return autocommit(  # type: ignore[no-any-return]
        SqlStore.from_url(load_settings(home=home, environ={}).database.url))


def test_users_are_created_listed_and_deleted(cli: CliRunner, tmp_path: Path) -> None:
    created = run(cli, "users", "create", "alice", "--role", "op", "--email", "a@example.com",
                  "--password-stdin", stdin="correct-horse\n")
    assert created.exit_code == 0, created.output
    assert created.output.strip() == "user alice created with role op"
    generated = run(cli, "users", "create", "bob", "--generate-password")
    assert generated.exit_code == 0, generated.output
    password = generated.output.split("password: ")[1].strip()
    listed = json.loads(run(cli, "users", "list", "--json").output)
    assert [(u["username"], u["role"], u["email"]) for u in listed] == [
        ("alice", "op", "a@example.com"), ("bob", "viewer", None)]
    table = run(cli, "users", "list").output
    assert "alice" in table and "bob" in table
    store = store_of(tmp_path)
    try:
        assert authenticate(store, "alice", "correct-horse") is not None
        assert authenticate(store, "bob", password) is not None
        assert [a.event for a in store.audit.list(limit=2)] == ["user_create", "user_create"]
    finally:
        store.close()
    deleted = run(cli, "users", "delete", "alice")
    assert deleted.exit_code == 0 and deleted.output.strip() == "user alice deleted"
    assert [u["username"] for u in json.loads(run(cli, "users", "list", "--json").output)] == [
        "bob"]


def test_passwords_are_asked_for_twice(cli: CliRunner, tmp_path: Path) -> None:
    result = run(cli, "users", "create", "carol", stdin="first-password\nfirst-password\n")
    assert result.exit_code == 0, result.output
    mismatch = run(cli, "users", "create", "dave",
                   stdin="first-password\nother-password\nsecond-pass\nsecond-pass\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output.lower()
    store = store_of(tmp_path)
    try:
        assert authenticate(store, "dave", "second-pass") is not None
    finally:
        store.close()


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["users", "create", "eve", "--role", "king", "--password-stdin"], "long-enough\n",
     "unknown role 'king': use one of admin, op, viewer"),
    (["users", "create", "eve", "--password-stdin"], "short\n",
     "the password must have at least 8 characters"),
    (["users", "create", "bad name", "--password-stdin"], "long-enough\n",
     "bad username 'bad name'"),
    (["users", "delete", "nobody"], None, "no user 'nobody'"),
    (["users", "set-password", "nobody", "--generate-password"], None, "no user 'nobody'"),
    (["tokens", "create", "--user", "nobody"], None, "no user 'nobody'"),
    (["tokens", "delete", "nope"], None, "no API token 'nope'"),
])
def test_bad_input_is_one_line_and_changes_nothing(cli: CliRunner, tmp_path: Path,
                                                   args: list[str], stdin: str | None,
                                                   message: str) -> None:
    result = run(cli, *args, stdin=stdin)
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith(f"Error: {message}"), result.output
    assert "Traceback" not in result.output
    assert json.loads(run(cli, "users", "list", "--json").output) == []


def test_a_taken_username_is_refused(cli: CliRunner) -> None:
    run(cli, "users", "create", "alice", "--password-stdin", stdin="correct-horse\n")
    again = run(cli, "users", "create", "alice", "--role", "admin", "--password-stdin",
                stdin="other-horse\n")
    assert again.exit_code == 2 and "a user 'alice' already exists" in again.output
    listed = json.loads(run(cli, "users", "list", "--json").output)
    assert [(u["username"], u["role"]) for u in listed] == [("alice", "viewer")]


def test_a_token_from_the_command_line_opens_the_api(cli: CliRunner, tmp_path: Path) -> None:
    run(cli, "users", "create", "alice", "--role", "op", "--password-stdin",
        stdin="correct-horse\n")
    created = run(cli, "tokens", "create", "--user", "alice", "--name", "ci",
                  "--expires-in-days", "30")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("ms_")
    listed = json.loads(run(cli, "tokens", "list", "--json").output)
    assert [(t["user"], t["name"]) for t in listed] == [("alice", "ci")]
    assert listed[0]["expires_at"] is not None
    settings = load_settings(home=tmp_path, environ={})
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        me = client.get("/api/v1/auth/me", headers=headers)
        assert me.status_code == 200 and me.json()["username"] == "alice"
        revoked = run(cli, "tokens", "delete", listed[0]["token_id"])
        assert revoked.exit_code == 0
        assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_set_password_replaces_the_old_one(cli: CliRunner, tmp_path: Path) -> None:
    run(cli, "users", "create", "alice", "--password-stdin", stdin="correct-horse\n")
    changed = run(cli, "users", "set-password", "alice", "--password-stdin",
                  stdin="battery-staple\n")
    assert changed.exit_code == 0, changed.output
    store = store_of(tmp_path)
    try:
        assert authenticate(store, "alice", "battery-staple") is not None
        assert authenticate(store, "alice", "correct-horse") is None
    finally:
        store.close()


def test_the_only_admin_is_not_deleted(cli: CliRunner) -> None:
    run(cli, "users", "create", "root", "--role", "admin", "--generate-password")
    refused = run(cli, "users", "delete", "root")
    assert refused.exit_code == 2
    assert "user 'root' is the only admin and cannot be deleted" in refused.output
    run(cli, "users", "create", "backup", "--role", "admin", "--generate-password")
    assert run(cli, "users", "delete", "root").exit_code == 0
