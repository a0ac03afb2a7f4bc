"""What the Celery tests share: services, a database of their own, homes, workers, test hosts.

Each test gets a PostgreSQL database of its own (NOTIFY channels are per database, so
parallel runs never wake each other's schedulers), a Redis database number kept for these
tests and Celery queue names of its own (so messages never cross between runs), and
cleans up all three.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from millstream.store.sql import make_engine
from tests.integration.engine.engine_helpers import Home, Proc, in_session, kill_group

POSTGRES_ENV = "MILLSTREAM_TEST_POSTGRES_URL"
REDIS_ENV = "MILLSTREAM_TEST_REDIS_URL"
RABBITMQ_ENV = "MILLSTREAM_TEST_RABBITMQ_URL"
REDIS_DB = 13
"""The Redis database number of the Celery tests (their queue names are unique per test)."""
LOG_SECRET = "celery-tests-log-secret"


def needed(env: str, what: str) -> str:
    url = os.environ.get(env)
    if not url:
        pytest.skip(f"needs {what}: set {env}")
    return url


def postgres_base() -> str:
    return needed(POSTGRES_ENV, "PostgreSQL for the Celery tests")


def broker_base(kind: str) -> str:
    """The broker URL of ``kind`` (redis or rabbitmq) from the environment."""
    if kind == "redis":
        url = needed(REDIS_ENV, "Redis as the Celery broker")
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=f"/{REDIS_DB}"))
    return needed(RABBITMQ_ENV, "RabbitMQ as the Celery broker")


def broker_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 6379 if parts.scheme.startswith("redis") else 5672
    return parts.hostname or "127.0.0.1", parts.port or default


def via(url: str, host: str, port: int) -> str:
    """``url`` reaching its service at ``host:port`` instead (through a proxy)."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def fresh_database(base: str) -> Iterator[str]:
    """A new PostgreSQL database on the server of ``base`` (dropped at the end)."""
    name = f"ms_celery_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        parts = urlsplit(base)
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def delete_queues(broker_url: str, queues: list[str]) -> None:
    """Remove a test's queues from the broker (whatever was left in them), and on Redis
    the binding keys kombu keeps beside them."""
    from kombu import Connection

    with contextlib.suppress(Exception), Connection(broker_url, connect_timeout=5) as conn:
        channel = conn.channel()
        for queue in queues:
            with contextlib.suppress(Exception):
                channel.queue_delete(queue)
    if broker_url.startswith("redis"):
        import redis

        with contextlib.suppress(Exception):
            client = redis.Redis.from_url(broker_url, socket_timeout=5)
            for queue in queues:
                client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
            client.close()


# -- test hosts: network namespaces -----------------------------------------------------------
def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class NetnsHost:
    """A network namespace joined to this machine by a veth pair on a /30 of 198.18.0.0/15
    (the range set aside for network tests): the host side is ``gateway``, the test host
    is ``address``. Processes started in it reach this machine only over that link."""

    name: str
    gateway: str
    address: str
    veth: str

    @classmethod
    def create(cls) -> NetnsHost:
        if os.geteuid() != 0:
            pytest.skip("needs root to make network namespaces for the Celery test hosts")
        used = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True,
                              check=True).stdout
        for _ in range(50):
            third, fourth = random.randrange(0, 256), random.randrange(0, 64) * 4
            base = f"198.18.{third}."
            if f"{base}{fourth + 1}/" not in used and f"{base}{fourth + 2}/" not in used:
                break
        tag = uuid.uuid4().hex[:6]
        host = cls(f"ms-celery-{tag}", f"{base}{fourth + 1}", f"{base}{fourth + 2}",
                   f"ms{tag}h")
        inner = f"ms{tag}n"
        try:
            _ip("netns", "add", host.name)
            _ip("link", "add", host.veth, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", host.name)
            _ip("addr", "add", f"{host.gateway}/30", "dev", host.veth)
            _ip("link", "set", host.veth, "up")
            _ip("netns", "exec", host.name, "ip", "addr", "add", f"{host.address}/30", "dev",
                inner)
            _ip("netns", "exec", host.name, "ip", "link", "set", inner, "up")
            _ip("netns", "exec", host.name, "ip", "link", "set", "lo", "up")
        except BaseException:
            host.remove()
            raise
        return host

    def remove(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True, timeout=30)

    def exists(self) -> bool:
        found = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        return any(line.split()[0] == self.name for line in found.splitlines() if line)


# -- a home for the Celery executor -----------------------------------------------------------
@dataclass
class CeleryHome(Home):
    """A home whose schedulers use the Celery executor over ``broker_url``."""

    broker_url: str = ""
    queue: str = field(default_factory=lambda: f"ms-test-{uuid.uuid4().hex[:10]}")
    workers: dict[str, Proc] = field(default_factory=dict)
    queues: list[str] = field(default_factory=list)  # more queues a test uses

    def __post_init__(self) -> None:
        self.set(scheduler__executor="celery", celery__broker_url=self.broker_url,
                 celery__default_queue=self.queue, celery__log_server_secret=LOG_SECRET,
                 celery__log_server_port=0, scheduler__heartbeat_interval_s=1,
                 scheduler__zombie_timeout_s=10)

    def start_with(self, env: dict[str, str], *args: str, netns: str | None = None,
                   label: str | None = None) -> Proc:
        """``millstream ARGS`` with ``env`` on top of the home's, maybe in a namespace."""
        argv = [sys.executable, "-m", "millstream.cli.main", *args]
        if netns is not None:
            argv = ["ip", "netns", "exec", netns, *argv]
        out = self.scratch / f"{label or args[0]}-{len(self._procs) + 1}.out"
        with out.open("wb") as sink:
            popen = subprocess.Popen(argv, env={**self.process_env(), **env}, stdout=sink,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=self.scratch)
        proc = Proc(popen, out, argv)
        self._procs.append(proc)
        return proc

    def start_worker(self, name: str, *extra: str, env: dict[str, str] | None = None,
                     netns: str | None = None, host: str = "127.0.0.1",
                     log_port: int = 0) -> Proc:
        """A worker named ``name@host`` with a log folder of its own, serving it on
        ``log_port``."""
        logs = self.path / f"logs-{name}"
        settings = {"MILLSTREAM__LOGGING__BASE_LOG_FOLDER": str(logs),
                    "MILLSTREAM__CELERY__LOG_SERVER_PORT": str(log_port), **(env or {})}
        proc = self.start_with(settings, "worker", "--hostname", f"{name}@{host}",
                               "--concurrency", "2", *extra, netns=netns, label=name)
        self.workers[name] = proc
        return proc

    def worker_logs(self, name: str) -> Path:
        return self.path / f"logs-{name}"

    def tails(self) -> str:
        return "\n".join(proc.tail(40) for proc in self._procs)

    def close(self) -> None:
        # A worker killed with kill -9 leaves its fork server and tries behind, in its session.
        sessions = [proc.pid for proc in self.workers.values()]
        super().close()
        for sid in sessions:
            for pid in in_session(sid):
                kill_group(pid)
        delete_queues(self.broker_url, [self.queue, *self.queues])


def worker_ready(proc: Proc) -> bool:
    if proc.popen.poll() is not None:
        pytest.fail(f"the worker exited early:\n{proc.tail()}")
    return " ready." in proc.output()


def celery_home(tmp_path: Path, database_url: str, broker_url: str) -> Iterator[CeleryHome]:
    from millstream.store.sql.migrate import migrate

    path = tmp_path / "home"
    (path / "dags").mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    migrate(database_url)
    home = CeleryHome(path, database_url, scratch, broker_url=broker_url)
    try:
        yield home
    finally:
        home.close()
