"""Workers on test hosts of their own: network namespaces joined to this machine by veth pairs.

Each worker reaches PostgreSQL and the broker only through a TCP proxy listening on its
link's address here (the services listen on loopback alone), and the web server reaches
the worker's log server only over that link, as with machines on a network.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from millstream.api import accounts
from millstream.api.deps import utcnow
from millstream.api.remote_logs import RemoteLogs
from millstream.model.states import TaskState
from millstream.ui.logs import read_log
from millstream.ui.server import create_app
from tests.integration.celery.celery_helpers import (
    CeleryHome,
    NetnsHost,
    broker_address,
    via,
)
from tests.integration.celery.tcp_proxy import TcpProxy
from tests.integration.celery.test_celery_faults import started, succeeded
from tests.integration.engine.engine_helpers import wait_for
from tests.integration.ui.ui_helpers import login

SLOW_FAN = """
    import time
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def work(**context):
        print("first line of", context["ti"].task_id, flush=True)
        time.sleep(3)
        print("last line of", context["ti"].task_id, flush=True)

    with DAG("celery_hosts", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        [PythonOperator(task_id=f"work{i}", python_callable=work) for i in range(4)]
"""


@pytest.fixture
def hosts() -> Iterator[list[NetnsHost]]:
    made: list[NetnsHost] = []
    try:
        made.append(NetnsHost.create())
        made.append(NetnsHost.create())
        yield made
    finally:
        for host in made:
            host.remove()


def postgres_address(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def test_workers_on_other_hosts_run_tries_and_serve_their_logs_to_the_web_server(
    redis_home: CeleryHome, hosts: list[NetnsHost],
) -> None:
    home = redis_home
    home.write_dag("celery_hosts.py", SLOW_FAN)
    log_port = random.randrange(20000, 40000)
    proxies: list[TcpProxy] = []
    try:
        for index, host in enumerate(hosts, start=1):
            database = TcpProxy(postgres_address(home.database_url), host.gateway)
            broker = TcpProxy(broker_address(home.broker_url), host.gateway)
            proxies += [database, broker]
            home.start_worker(f"w{index}", netns=host.name, host=host.address,
                              log_port=log_port, env={
                "MILLSTREAM__DATABASE__URL": via(home.database_url, host.gateway,
                                                 database.port),
                "MILLSTREAM__CELERY__BROKER_URL": via(home.broker_url, host.gateway,
                                                      broker.port)})
        home.start("scheduler")
        run_id = started(home, "celery_hosts")

        # the web server follows a try's log live from the worker running it
        home.set(celery__log_server_port=log_port)
        settings = home.settings()
        store = home.store()
        accounts.create_user(store.raw, "viewer", "viewer-password", "viewer", "tests",
                             utcnow())
        _, token = accounts.create_token(store.raw, "viewer", "tests", utcnow())
        running = wait_for(
            lambda: (ti := home.instance("celery_hosts", run_id, "work0")).state
            is TaskState.RUNNING and ti, 60, "work0 to run", home.tails)
        with TestClient(create_app(settings)) as client:
            headers = {"Authorization": f"Bearer {token}"}
            base = f"/api/v1/dags/celery_hosts/dagRuns/{run_id}/taskInstances/work0"
            followed = client.get(f"{base}/logs/1/stream", headers=headers)
            assert followed.status_code == 200, followed.text
            assert "first line of work0" in followed.text
            assert "last line of work0" in followed.text  # the stream lasted the whole try

            succeeded(home, "celery_hosts", run_id)
            instances = home.instances("celery_hosts", run_id)
            hostnames = {ti.hostname for ti in instances.values()}
            assert hostnames == {f"w1@{hosts[0].address}", f"w2@{hosts[1].address}"}
            assert running.hostname in hostnames
            assert not list(home.logs.rglob("*.log"))  # no log is on the web server's side
            for label, ti in instances.items():
                listed = client.get(f"/api/v1/dags/celery_hosts/dagRuns/{run_id}/"
                                    f"taskInstances/{label}", headers=headers).json()
                assert listed["hostname"] == ti.hostname
                piece = client.get(f"/api/v1/dags/celery_hosts/dagRuns/{run_id}/"
                                   f"taskInstances/{label}/logs/1", headers=headers).json()
                assert f"last line of {label}" in piece["content"]
                assert piece["finished"] is True
                shown = read_log(settings.logging.base_log_folder, ti, 1,
                                 remote=RemoteLogs.from_settings(settings))
                assert shown.exists and f"first line of {label}" in shown.text

            assert login(client, "viewer", "viewer-password").status_code == 303
            page = client.get("/dags/celery_hosts/task",
                              params={"run_id": run_id, "task_id": "work1"})
            assert page.status_code == 200, page.text[:500]
            work1 = instances["work1"]
            assert work1.hostname is not None and work1.hostname in page.text
            assert "last line of work1" in page.text
            panel = client.get("/dags/celery_hosts/grid/details",
                               params={"run_id": run_id, "task_id": "work3"})
            assert panel.status_code == 200 and "last line of work3" in panel.text
        # a wrong secret gets nothing from a worker's log server
        wrong = RemoteLogs(log_port, "not-the-secret")
        assert wrong.piece(instances["work2"], 1, 0, 100) is None
    finally:
        for proxy in proxies:
            proxy.close()
    for host in hosts:
        host.remove()
        assert not host.exists()
