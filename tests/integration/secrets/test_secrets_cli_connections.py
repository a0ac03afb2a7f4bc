"""``millstream connections add|list|get|delete`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from cli_helpers import Cli, assert_one_line_error

from millstream.cli.common import open_store

PASSWORD = "Pa$$ w@rd:/?#-0123"
URI = ("postgresql://etl%40corp:Pa%24%24%20w%40rd%3A%2F%3F%23-0123@db.internal:5432/sales"
       "?sslmode=require&api_key=extra-key-98765")


def listed(cli: Cli) -> dict[str, dict[str, object]]:
    return {c["conn_id"]: c for c in json.loads(cli.ok("connections", "list", "--json"))}


def test_add_list_get_and_delete(secrets_cli: Cli) -> None:
    cli = secrets_cli
    code, out, err = cli("connections", "add", "sales_db", "--conn-uri", URI,
                         "--conn-description", "the sales database")
    assert code == 0, err
    assert "generated a Fernet key in" in err  # a fresh home gets its key with the first secret
    assert (cli.home / "fernet.key").is_file()
    assert out.strip() == ("connection sales_db added: postgres://etl%40corp:***@db.internal:5432"
                           "/sales?sslmode=require&api_key=***")
    cli.ok("connections", "add", "api", "--conn-type", "http", "--conn-host", "api.example.com",
           "--conn-port", "8443", "--conn-login", "bot", "--conn-password", "tok-secret-555",
           "--conn-extra", '{"timeout": 30}')
    cli.ok("connections", "add", "files", "--conn-json",
           '{"conn_type": "sqlite", "host": "/data/app.db", "description": "local"}')

    rows = listed(cli)
    assert list(rows) == ["api", "files", "sales_db"]
    assert rows["sales_db"] == {
        "conn_id": "sales_db", "conn_type": "postgres", "description": "the sales database",
        "host": "db.internal", "schema": "sales", "login": "etl@corp", "port": 5432,
        "password": "***", "extra": {"sslmode": "require", "api_key": "***"},
        "is_encrypted": True, "is_extra_encrypted": True,
    }
    assert rows["files"]["password"] is None and rows["files"]["description"] == "local"
    table = cli.ok("connections", "list")
    assert "sales_db" in table and "***" in table and "db.internal" in table
    for output in (table, json.dumps(rows)):
        assert PASSWORD not in output and "tok-secret-555" not in output
        assert "extra-key-98765" not in output

    shown = json.loads(cli.ok("connections", "get", "api", "--json"))
    assert shown["password"] == "***" and shown["port"] == 8443
    assert shown["uri"] == ("http://bot:***@api.example.com:8443/"
                            "?__extra__=%7B%22timeout%22%3A+30%7D")
    assert "tok-secret-555" not in cli.ok("connections", "get", "api")
    revealed = json.loads(cli.ok("connections", "get", "sales_db", "--json", "--reveal"))
    assert revealed["password"] == PASSWORD
    assert revealed["extra"] == {"sslmode": "require", "api_key": "extra-key-98765"}

    assert cli.ok("connections", "delete", "api").strip() == "connection api deleted"
    assert list(listed(cli)) == ["files", "sales_db"]
    with open_store() as store:
        events = [(a.event, a.extra.get("conn_id")) for a in store.audit.list()]
    assert events == [("connection_delete", "api"), ("connection_set", "files"),
                      ("connection_set", "api"), ("connection_set", "sales_db")]


def test_get_finds_environment_connections_as_tasks_do(
    secrets_cli: Cli, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MILLSTREAM_CONN_FROM_ENV", "redis://:cache-pass-777@cache:6379")
    shown = json.loads(secrets_cli.ok("connections", "get", "from_env", "--json"))
    assert (shown["conn_type"], shown["host"], shown["password"]) == ("redis", "cache", "***")
    assert listed(secrets_cli) == {}  # list shows the database only


@pytest.mark.parametrize(("args", "fragment"), [
    (("add", "c", "--conn-uri", "postgres://h:abc/db"), "port 'abc' in the URI is not a number"),
    (("add", "c", "--conn-type", "http", "--conn-port", "eighty"),
     "--conn-port must be a number from 1 to 65535, got 'eighty'"),
    (("add", "c", "--conn-type", "http", "--conn-port", "70000"),
     "port must be a number from 1 to 65535, got 70000"),
    (("add", "c", "--conn-uri", "http://h", "--conn-host", "x"),
     "--conn-uri already holds the whole connection: drop --conn-host"),
    (("add", "c", "--conn-host", "x"), "give --conn-uri, --conn-json or --conn-type"),
    (("add", "bad id", "--conn-type", "http"), "connection id 'bad id' holds ' '"),
    (("add", "c", "--conn-type", "http", "--conn-extra", "{not json"), "extra is not valid JSON"),
    (("add", "c", "--conn-json", '{"conn_type": "http", "hots": "x"}'), "unknown field(s) 'hots'"),
    (("add", "existing", "--conn-type", "sqlite"), "connection 'existing' already exists"),
    (("delete", "nothing"), "no connection 'nothing' in the database"),
    (("get", "nothing"), "connection 'nothing' is not defined (looked in env var "
                         "MILLSTREAM_CONN_NOTHING"),
])
def test_bad_input_is_one_line_and_changes_nothing(secrets_cli: Cli, args: tuple[str, ...],
                                                   fragment: str) -> None:
    secrets_cli.ok("connections", "add", "existing", "--conn-uri", "http://u:pw-1234567@h")
    before = listed(secrets_cli)
    code, _, err = secrets_cli("connections", *args)
    assert code == 2, err
    assert_one_line_error(err, fragment)
    assert "pw-1234567" not in err
    assert listed(secrets_cli) == before


def test_overwrite_replaces_a_connection(secrets_cli: Cli) -> None:
    secrets_cli.ok("connections", "add", "c", "--conn-uri", "http://old-host")
    out = secrets_cli.ok("connections", "add", "c", "--conn-uri", "https://new-host:8443",
                         "--overwrite")
    assert out.strip() == "connection c saved: https://new-host:8443"
    assert listed(secrets_cli)["c"]["host"] == "new-host"
