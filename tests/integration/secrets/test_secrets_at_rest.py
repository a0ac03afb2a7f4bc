"""Secrets are ciphertext in the database, under the key a fresh home generates for itself."""

from __future__ import annotations

import json
import sqlite3
import stat

import pytest
from cli_helpers import Cli, assert_one_line_error
from cryptography.fernet import Fernet
from sqlalchemy import text

from millstream.config import load_settings
from millstream.store.sql import make_engine

PASSWORD = "plain-pass-4242"
EXTRA_SECRET = "plain-extra-7777"
VALUE = "plain-value-3131"


def _store_secrets(cli: Cli) -> None:
    cli.ok("connections", "add", "dw", "--conn-uri",
           f"postgres://etl:{PASSWORD}@db.internal/dw?api_key={EXTRA_SECRET}")
    cli.ok("variables", "set", "region", VALUE)


def test_rows_hold_ciphertext_of_the_generated_key(secrets_cli: Cli) -> None:
    _store_secrets(secrets_cli)
    key = (secrets_cli.home / "fernet.key").read_text().strip()
    engine = make_engine(load_settings().database.url)
    try:
        with engine.connect() as connection:
            variables = [dict(r._mapping) for r in connection.execute(
                text("SELECT * FROM variable"))]
            connections = [dict(r._mapping) for r in connection.execute(
                text("SELECT * FROM connection"))]
    finally:
        engine.dispose()
    dumped = json.dumps([variables, connections], default=str)
    for plain in (PASSWORD, EXTRA_SECRET, VALUE, "api_key"):
        assert plain not in dumped
    fernet = Fernet(key.encode())
    assert fernet.decrypt(variables[0]["value"].encode()).decode() == VALUE
    assert fernet.decrypt(connections[0]["password"].encode()).decode() == PASSWORD
    assert json.loads(fernet.decrypt(connections[0]["extra"].encode())) == {
        "api_key": EXTRA_SECRET}
    assert (connections[0]["host"], connections[0]["login"]) == ("db.internal", "etl")
    assert bool(variables[0]["is_encrypted"]) and bool(connections[0]["is_encrypted"])


def test_the_sqlite_file_never_holds_the_plaintext(sqlite_cli: Cli) -> None:
    _store_secrets(sqlite_cli)
    database = sqlite_cli.home / "millstream.db"
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT value FROM variable").fetchall()
        rows += connection.execute("SELECT password, extra FROM connection").fetchall()
    assert len(rows) == 2 and all(value.startswith("gAAAA") for row in rows for value in row)
    files = [path for path in database.parent.iterdir() if path.name.startswith("millstream.db")]
    raw = b"".join(path.read_bytes() for path in files)  # the file and its WAL, byte by byte
    assert b"db.internal" in raw  # the host is not a secret: the search itself works
    for plain in (PASSWORD, EXTRA_SECRET, VALUE):
        assert plain.encode() not in raw


def test_db_migrate_on_a_fresh_home_writes_the_key_once(sqlite_cli: Cli) -> None:
    key_file = sqlite_cli.home / "fernet.key"
    out = sqlite_cli.ok("db", "migrate")
    assert f"generated a Fernet key in {key_file}" in out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    Fernet(key.encode())  # a valid key
    again = sqlite_cli.ok("db", "migrate")
    assert "generated" not in again and key_file.read_text().strip() == key
    _store_secrets(sqlite_cli)  # uses that key: nothing new is generated
    assert key_file.read_text().strip() == key


def test_a_configured_key_means_no_key_file(sqlite_cli: Cli,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("MILLSTREAM__CORE__FERNET_KEY", key)
    assert "generated" not in sqlite_cli.ok("db", "migrate")
    _store_secrets(sqlite_cli)
    assert not (sqlite_cli.home / "fernet.key").exists()
    with sqlite3.connect(sqlite_cli.home / "millstream.db") as connection:
        (value,) = connection.execute("SELECT value FROM variable").fetchone()
    assert Fernet(key.encode()).decrypt(value.encode()).decode() == VALUE


def test_the_wrong_key_is_a_one_line_error(sqlite_cli: Cli) -> None:
    _store_secrets(sqlite_cli)
    (sqlite_cli.home / "fernet.key").write_text(Fernet.generate_key().decode())
    code, _, err = sqlite_cli("variables", "get", "region")
    assert code == 2
    assert_one_line_error(err, "cannot decrypt the value of variable 'region': the fernet key "
                               "in settings is not the key it was encrypted with")
    code, _, err = sqlite_cli("connections", "get", "dw")
    assert code == 2
    assert_one_line_error(err, "cannot decrypt the password of connection 'dw'")
