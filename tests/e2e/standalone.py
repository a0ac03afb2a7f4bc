"""A real ``millstream standalone`` process for the browser tests: start, wait until ready, stop."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0

EXAMPLE_DAG_IDS = (
    "conditional_processing_pipeline",
    "etl_sales_pipeline",
    "idempotent_etl_example",
    "parallel_data_sync",
    "pipeline_with_observability",
    "robust_error_handling_pipeline",
    "taskflow_sales_summary",
)
"""The DAGs of examples/dags that standalone loads by default."""

_URL = re.compile(r"web server on (http://[^\s)]+)")
_LOGIN = re.compile(r"^login\s+admin / (\S+) \(generated", re.MULTILINE)


def millstream_command() -> list[str]:
    """The installed console script next to this interpreter, else the CLI module."""
    script = Path(sys.executable).with_name("millstream")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "millstream.cli.main"]


@dataclass
class Standalone:
    """One ``millstream standalone`` with its home, output, URL and admin credentials."""

    home: Path
    output_path: Path
    popen: subprocess.Popen[bytes]
    env: dict[str, str]
    url: str = ""
    admin_password: str = ""
    token: str = ""
    _client: httpx.Client | None = field(default=None, repr=False)

    def output(self) -> str:
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, what: str, check: Callable[[], T | None],
                 timeout: float = START_TIMEOUT_S) -> T:
        """Poll ``check`` until it returns a value; fail naming ``what`` (with the process's
        output) if the process ends or the time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found is not None:
                return found
            if self.popen.poll() is not None:
                pytest.fail(f"millstream standalone exited ({self.popen.returncode}) before "
                            f"{what}; its output:\n{self.output()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {timeout:.0f} s; millstream standalone's "
                            f"output:\n{self.output()}", pytrace=False)
            time.sleep(0.1)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A REST API call (``path`` under /api/v1) as the admin, with a bearer token."""
        if self._client is None:
            self._client = httpx.Client(base_url=f"{self.url}/api/v1", timeout=30.0)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self._client.request(method, path, headers=headers, **kwargs)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a ``millstream`` command on the same home and database."""
        return subprocess.run([*millstream_command(), *args], env=self.env, capture_output=True,
                              text=True, timeout=60, check=False)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL to the process group if it has not stopped in time."""
        if self._client is not None:
            self._client.close()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=STOP_TIMEOUT_S)
        # Task processes it may have left behind are in its own process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        return self.popen.returncode


def start_standalone(workdir: Path) -> Standalone:
    """Start ``millstream standalone`` in a fresh home under ``workdir``; return once its web
    server answers, its scheduler and triggerer are healthy and the example DAGs are loaded."""
    home = workdir / "home"
    home.mkdir(parents=True)
    # Only this test's settings: nothing from the caller's MILLSTREAM_* variables.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
    env.update(
        MILLSTREAM_HOME=str(home),
        MILLSTREAM__SCHEDULER__HEARTBEAT_INTERVAL_S="1",
        PYTHONUNBUFFERED="1",
        COLUMNS="240",  # rich wraps at 80 columns otherwise, splitting the lines read below
        NO_COLOR="1",
    )
    output_path = workdir / "standalone.log"
    with output_path.open("wb") as sink:
        # --port 0: any free port; the server prints which.
        popen = subprocess.Popen([*millstream_command(), "standalone", "--port", "0"], env=env,
                                 stdout=sink, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    server = Standalone(home, output_path, popen, env)
    try:
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: Standalone) -> None:
    def printed(pattern: re.Pattern[str]) -> str | None:
        match = pattern.search(server.output())
        return match.group(1) if match else None

    server.admin_password = server.wait_for("generated admin password printed",
                                            lambda: printed(_LOGIN))
    server.url = server.wait_for("web server URL printed", lambda: printed(_URL))
    server.wait_for("healthy scheduler and triggerer at /api/v1/health",
                    lambda: _healthy(server))
    created = server.cli("tokens", "create", "--user", "admin", "--name", "browser tests")
    if created.returncode != 0:
        pytest.fail(f"millstream tokens create failed:\n{created.stdout}{created.stderr}",
                    pytrace=False)
    server.token = created.stdout.strip().splitlines()[-1]
    server.wait_for("example DAGs in /api/v1/dags", lambda: _examples_loaded(server))


def _healthy(server: Standalone) -> bool | None:
    try:
        response = server.api("GET", "/health")
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    body = response.json()
    parts = (body["metadatabase"], body["scheduler"], body["triggerer"])
    return True if all(part["status"] == "healthy" for part in parts) else None


def _examples_loaded(server: Standalone) -> bool | None:
    response = server.api("GET", "/dags", params={"limit": 100})
    response.raise_for_status()
    found = {dag["dag_id"] for dag in response.json()["dags"]}
    return True if found.issuperset(EXAMPLE_DAG_IDS) else None


def keep_output(server: Standalone, folder: Path) -> None:
    """Copy the server's output next to the screenshots, for reading after a failure."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(server.output_path, folder / "standalone.log")
