"""The compose layout of deploy/compose.yaml as plain processes on PostgreSQL: the web
server, both schedulers and the triggerer, started with the commands and settings the
compose file gives them (the tests' database and a free port instead of the project's).

The schedulers run tries with the local executor here (the workers of the compose file
are Celery's); the DAG defers to the triggerer, and the web server reports both kinds of
service healthy.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from engine_helpers import Home, Proc, wait_for
from sqlalchemy import text
from tests.integration.deploy.compose_file import compose

from millstream.model.states import DagRunState, TaskState

LAYOUT_DAG = """
    from datetime import datetime, timedelta, timezone

    from millstream import DAG
    from millstream.operators.python import PythonOperator
    from millstream.sensors.time import TimeDeltaSensorAsync

    with DAG("layout", schedule=None,
             start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
        wait = TimeDeltaSensorAsync(task_id="wait", delta=timedelta(seconds=1))
        wait >> [PythonOperator(task_id=f"step{i}", python_callable=lambda: i)
                 for i in range(4)]
"""
PLAIN_PROCESS_SERVICES = ("webserver", "scheduler", "triggerer")
"""The compose services run here (``migrate`` is the fixture's; ``worker`` is Celery's)."""


def _service_argv(service: dict[str, Any]) -> list[str]:
    argv = [str(arg) for arg in service["command"]]
    if "--port" in argv:  # any free port, not the project's published one
        argv[argv.index("--port") + 1] = "0"
    if "--host" in argv:  # this machine's loopback, not every interface of a container
        argv[argv.index("--host") + 1] = "127.0.0.1"
    return argv


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_compose_layout_runs_as_plain_processes(home: Home) -> None:
    services = compose()["services"]
    environment = {k: str(v) for k, v in services["scheduler"]["environment"].items()
                   if k.startswith("MILLSTREAM__") and not k.startswith(
                       ("MILLSTREAM__DATABASE__", "MILLSTREAM__CELERY__",
                        "MILLSTREAM__SCHEDULER__EXECUTOR",
                        "MILLSTREAM__CORE__DAGS_ARE_PAUSED"))}
    for key, value in environment.items():
        section, name = key.removeprefix("MILLSTREAM__").lower().split("__")
        home.set(**{f"{section}__{name}": value})
    home.write_dag("layout.py", LAYOUT_DAG)
    home.cli(*services["migrate"]["command"])
    procs: dict[str, list[Proc]] = {}
    for name in PLAIN_PROCESS_SERVICES:
        replicas = services[name].get("deploy", {}).get("replicas", 1)
        procs[name] = [home.start(*_service_argv(services[name])) for _ in range(replicas)]
    assert len(procs["scheduler"]) == 2

    def detail() -> str:
        return "\n".join([home.describe("layout"),
                          *(p.tail(30) for group in procs.values() for p in group)])

    web = procs["webserver"][0]
    url = wait_for(lambda: _match(r"web server on (http://\S+)", web.output()), 60,
                   "the web server to listen", detail)
    wait_for(lambda: home.parsed("layout"), 60, "a scheduler to store the DAG", detail)
    run_id = home.trigger("layout")
    wait_for(lambda: home.finished_run("layout", run_id), 120, "the run to finish", detail)
    finished = home.run("layout", run_id)
    assert finished is not None and finished.state is DagRunState.SUCCESS, detail()
    states = {label: ti.state for label, ti in home.instances("layout", run_id).items()}
    assert set(states.values()) == {TaskState.SUCCESS}
    assert home.instance("layout", run_id, "wait").try_number == 1  # resumed, not retried

    def healthy() -> dict[str, Any] | None:
        body = httpx.get(f"{url}/api/v1/health", timeout=10).json()
        fine = all(body[part]["status"] == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer"))
        return body if fine else None

    wait_for(healthy, 30, "the web server to report every service healthy", detail)
    with home.store().engine.connect() as connection:
        heartbeats = connection.execute(
            text("SELECT pid FROM job WHERE job_type = 'scheduler'")).scalars().all()
    assert {p.pid for p in procs["scheduler"]} <= set(heartbeats)
    assert all(p.popen.poll() is None for group in procs.values() for p in group), detail()


def _match(pattern: str, output: str) -> str | None:
    found = re.search(pattern, output)
    return found.group(1) if found else None
