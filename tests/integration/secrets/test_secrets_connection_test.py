"""``millstream connections test``: real SQLite files, a real HTTP server, the real PostgreSQL."""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import NEEDS_POSTGRES, POSTGRES_ENV, Cli, assert_one_line_error

GOOD_AUTH = "Basic " + base64.b64encode(b"bot:right-password-1").decode()


class _Handler(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization")
        type(self).seen.append(auth)
        status = 200 if auth == GOOD_AUTH else 401
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers 200 to bot's right password, else 401."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen = []
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_sqlite_file_is_opened_read_only(sqlite_cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (x)")
    sqlite_cli.ok("connections", "add", "app", "--conn-type", "sqlite", "--conn-host",
                  str(database))
    out = sqlite_cli.ok("connections", "test", "app")
    assert out.startswith(f"connection app works: opened {database}")
    missing = tmp_path / "missing.db"
    sqlite_cli.ok("connections", "add", "gone", "--conn-type", "sqlite", "--conn-host",
                  str(missing))
    code, _, err = sqlite_cli("connections", "test", "gone")
    assert code == 1
    assert_one_line_error(err, f"connection gone failed: database file {missing} does not exist")
    assert not missing.exists()  # testing never creates the file


def test_http_base_url_with_basic_auth(sqlite_cli: Cli, http_server: str) -> None:
    sqlite_cli.ok("connections", "add", "api", "--conn-uri",
                  f"http://bot:right-password-1@{http_server}")
    assert sqlite_cli.ok("connections", "test", "api").strip() == (
        f"connection api works: GET http://{http_server} answered 200 OK")
    sqlite_cli.ok("connections", "add", "wrong", "--conn-uri",
                  f"http://bot:wrong-password-2@{http_server}")
    code, out, err = sqlite_cli("connections", "test", "wrong")
    assert code == 1
    assert_one_line_error(err, f"GET http://{http_server} answered 401 Unauthorized")
    assert "wrong-password-2" not in out + err
    assert _Handler.seen == [GOOD_AUTH, "Basic " + base64.b64encode(
        b"bot:wrong-password-2").decode()]


def test_postgres_runs_a_query(sqlite_cli: Cli) -> None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(NEEDS_POSTGRES)
    sqlite_cli.ok("connections", "add", "pg", "--conn-uri", url)
    assert sqlite_cli.ok("connections", "test", "pg").startswith(
        "connection pg works: connected to PostgreSQL")
    sqlite_cli.ok("connections", "add", "down", "--conn-uri",
                  "postgres://postgres:pw-never-shown-5@127.0.0.1:1/test")
    code, out, err = sqlite_cli("connections", "test", "down")
    assert code == 1
    assert_one_line_error(err, "connection down failed: OperationalError")
    assert "pw-never-shown-5" not in out + err


def test_unsupported_types_and_unknown_ids(sqlite_cli: Cli) -> None:
    sqlite_cli.ok("connections", "add", "files", "--conn-uri", "sftp://u@host")
    code, _, err = sqlite_cli("connections", "test", "files")
    assert code == 1
    assert_one_line_error(err, "testing connections of type 'sftp' is not supported")
    code, _, err = sqlite_cli("connections", "test", "nothing")
    assert code == 2
    assert_one_line_error(err, "connection 'nothing' is not defined")
