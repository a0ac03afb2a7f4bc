"""``millstream webserver`` and ``millstream standalone`` as real processes serving HTTP."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from millstream.api.accounts import authenticate, create_token
from millstream.api.deps import utcnow
from millstream.config import load_settings
from millstream.store.sql import SqlStore

T = TypeVar("T")
WAIT_S = 60.0


@dataclass
class Server:
    popen: subprocess.Popen[bytes]
    output_path: Path

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=30)


def wait_for(what: str, check: Callable[[], T | None], server: Server) -> T:
    """Poll ``check`` until it gives a value; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        if server.popen.poll() is not None:
            pytest.fail(f"the process ended before {what}:\n{server.output()}")
        time.sleep(0.1)
    pytest.fail(f"no {what} after {WAIT_S} s:\n{server.output()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    (path / "dags").mkdir(parents=True)
    return path


@pytest.fixture
def start(home: Path, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def run(*args: str, **env: str) -> Server:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
        environ.update(MILLSTREAM_HOME=str(home), PYTHONUNBUFFERED="1", COLUMNS="200",
                       NO_COLOR="1", **env)
        output = tmp_path / f"{args[0]}-{len(started)}.out"
        with output.open("wb") as sink:
            popen = subprocess.Popen([sys.executable, "-m", "millstream.cli.main", *args],
                                     env=environ, stdout=sink, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        server = Server(popen, output)
        started.append(server)
        return server

    yield run
    for server in started:
        if server.popen.poll() is None:
            os.killpg(server.popen.pid, signal.SIGKILL)
            server.popen.wait()


def served_url(server: Server) -> str:
    return wait_for("'web server on' line", lambda: _match(
        r"web server on (http://\S+)", server.output()), server)


def _match(pattern: str, text: str) -> str | None:
    found = re.search(pattern, text)
    return found.group(1) if found else None


def test_webserver_serves_the_api_and_stops_on_sigterm(start: Callable[..., Server]) -> None:
    port = free_port()
    server = start("webserver", "--port", str(port))
    url = served_url(server)
    assert url == f"http://127.0.0.1:{port}"
    health = httpx.get(f"{url}/api/v1/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["metadatabase"] == {"status": "healthy"}
    assert health.json()["scheduler"]["status"] is None  # no scheduler ever ran here
    assert httpx.get(f"{url}/api/v1/dags", timeout=10).status_code == 401
    schema = httpx.get(f"{url}/api/v1/openapi.json", timeout=10).json()
    assert "/dags/{dag_id}/dagRuns" in schema["paths"]
    assert server.stop() == 0
    assert "Traceback" not in server.output()


def test_a_port_in_use_is_one_line_naming_it(start: Callable[..., Server]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = start("webserver", "--port", str(port))
        code = server.popen.wait(timeout=60)
    lines = server.output().strip().splitlines()
    assert code == 2
    assert lines[-1].startswith(f"Error: the web server cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in server.output()


def test_standalone_creates_an_admin_once_and_serves_alongside_the_scheduler(
        start: Callable[..., Server], home: Path) -> None:
    server = start("standalone", "--no-examples", MILLSTREAM__WEBSERVER__PORT="0")
    url = served_url(server)
    password = wait_for("printed admin password", lambda: _match(
        r"login\s+admin / (\S+) \(generated", server.output()), server)
    health = wait_for("a healthy scheduler", lambda: _healthy(url), server)
    assert health["metadatabase"]["status"] == "healthy"
    settings = load_settings(home=home, environ={})
    store = SqlStore.from_url(settings.database.url)
    try:
        assert authenticate(store, "admin", password) is not None
        _, token = create_token(store, "admin", "tests", utcnow())
    finally:
        store.close()
    me = httpx.get(f"{url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"},
                   timeout=10)
    assert (me.status_code, me.json()["role"]) == (200, "admin")
    assert server.stop() == 0
    assert "Traceback" not in server.output()

    again = start("standalone", "--no-examples", MILLSTREAM__WEBSERVER__PORT="0")
    served_url(again)
    assert again.stop() == 0
    # The password was shown once, on the first start; now only how to reset it.
    assert password not in again.output()
    assert "users set-password admin" in again.output()


def _healthy(url: str) -> dict[str, dict[str, object]] | None:
    body: dict[str, dict[str, object]] = httpx.get(f"{url}/api/v1/health", timeout=10).json()
    return body if body["scheduler"]["status"] == "healthy" else None
