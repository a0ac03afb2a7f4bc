"""chain100 and fan1000 on the Celery executor with two workers, beside the local executor.

Usage: python benchmarks/bench_celery.py [--json] [--chain N] [--fan N]

Both executors run on the same PostgreSQL server, each over a fresh database of its own,
so that the comparison is of executors, not of databases:

- local: the engine the ``millstream scheduler`` command builds with the local executor
  (the scheduler forks every try);
- celery: the same scheduler with ``scheduler.executor = "celery"`` over Redis, and two
  ``millstream worker`` processes of ``WORKER_CONCURRENCY`` tries each, started as
  subprocesses; every try crosses the broker, its start and outcome are recorded by the
  worker and the scheduler wakes on PostgreSQL ``NOTIFY``.

Figures (from the timestamps the store recorded): chain100's median handoff (a task's
start minus its upstream's end) and fan1000's tasks per second (1000 / (last end - first
start)). Each Celery figure's floor is the local executor's, measured in the same run.

Needs MILLSTREAM_BENCH_POSTGRES_URL (or MILLSTREAM_TEST_POSTGRES_URL) and
MILLSTREAM_TEST_REDIS_URL; without them it says so and measures nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_engine import (  # noqa: E402
    CHAIN_DAG,
    FAN_DAG,
    _instances,
    _span_s,
    chain_handoffs,
    run_to_end,
)

if TYPE_CHECKING:
    from millstream.scheduler.job import SchedulerJob

Status = Callable[[str], None]
CHAIN_TASKS = 100
FAN_TASKS = 1000
WORKERS = 2
WORKER_CONCURRENCY = 4
PARALLELISM = WORKERS * WORKER_CONCURRENCY
REDIS_DB = 14
TIMEOUT_S = 900.0
SKIPPED = ("celery: skipped: set MILLSTREAM_BENCH_POSTGRES_URL (or MILLSTREAM_TEST_POSTGRES_URL) "
           "and MILLSTREAM_TEST_REDIS_URL to measure the Celery executor")


def _quiet(message: str) -> None:
    """The default status callback: say nothing."""


def services() -> tuple[str, str] | None:
    """The PostgreSQL server and the Redis broker to measure on, or None."""
    postgres = (os.environ.get("MILLSTREAM_BENCH_POSTGRES_URL")
                or os.environ.get("MILLSTREAM_TEST_POSTGRES_URL"))
    redis = os.environ.get("MILLSTREAM_TEST_REDIS_URL")
    if not postgres or not redis:
        return None
    broker = urlunsplit(urlsplit(redis)._replace(path=f"/{REDIS_DB}"))
    return postgres, broker


@contextlib.contextmanager
def fresh_database(base: str) -> Iterator[str]:
    from sqlalchemy import text

    from millstream.store.sql import make_engine

    name = f"ms_bench_celery_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield urlunsplit(urlsplit(base)._replace(path=f"/{name}"))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def engine(dag_id: str, source: str, postgres: str, broker: str | None,
           status: Status) -> Iterator[SchedulerJob]:
    """A scheduler job over a fresh home and database; with ``broker``, on Celery with
    two worker processes (stopped, with their tries, on exit)."""
    from millstream.cli.engine import scheduler_job
    from millstream.config import load_settings
    from millstream.store.sql.migrate import migrate

    with tempfile.TemporaryDirectory(prefix=f"millstream-celery-{dag_id}-") as tmp, \
            fresh_database(postgres) as database:
        home = Path(tmp)
        (home / "dags").mkdir()
        (home / "dags" / f"{dag_id}.py").write_text(textwrap.dedent(source))
        queue = f"bench-{uuid.uuid4().hex[:10]}"
        environ = {"MILLSTREAM__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false",
                   "MILLSTREAM__DATABASE__URL": database,
                   "MILLSTREAM__SCHEDULER__PARALLELISM": str(PARALLELISM),
                   "MILLSTREAM__LOGGING__LEVEL": "WARNING"}
        if broker is not None:
            environ.update({"MILLSTREAM__SCHEDULER__EXECUTOR": "celery",
                            "MILLSTREAM__CELERY__BROKER_URL": broker,
                            "MILLSTREAM__CELERY__DEFAULT_QUEUE": queue})
        migrate(database)
        settings = load_settings(home=home, environ=environ)
        workers: list[subprocess.Popen[bytes]] = []
        try:
            if broker is not None:
                status(f"{dag_id}: starting {WORKERS} Celery workers")
                workers = start_workers(home, environ)
            with scheduler_job(settings) as job:
                job.step(datetime.now(UTC))
                if dag_id not in job.scheduler.dags:
                    raise RuntimeError(f"{dag_id} was not loaded")
                yield job
        finally:
            for worker in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, 9)
                worker.wait(timeout=30)
            if broker is not None:
                delete_queue(broker, queue)


def start_workers(home: Path, environ: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """``WORKERS`` ``millstream worker`` processes; returns once each says it is ready."""
    workers = []
    outputs = []
    for number in range(1, WORKERS + 1):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
        env.update(environ, MILLSTREAM_HOME=str(home), PYTHONUNBUFFERED="1",
                   MILLSTREAM__LOGGING__BASE_LOG_FOLDER=str(home / f"logs-w{number}"),
                   MILLSTREAM__LOGGING__LEVEL="INFO")
        out = home / f"worker{number}.out"
        outputs.append(out)
        with out.open("wb") as sink:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "millstream.cli.main", "worker", "--hostname",
                 f"bench{number}@127.0.0.1", "--concurrency", str(WORKER_CONCURRENCY)],
                env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True))
    deadline = time.monotonic() + 120
    while not all(" ready." in out.read_text(errors="replace") for out in outputs):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            for worker in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(worker.pid, 9)
            tails = "\n".join(out.read_text(errors="replace")[-2000:] for out in outputs)
            raise RuntimeError(f"the Celery workers did not start:\n{tails}")
        time.sleep(0.1)
    return workers


def delete_queue(broker: str, queue: str) -> None:
    from kombu import Connection

    with contextlib.suppress(Exception), Connection(broker, connect_timeout=5) as conn:
        conn.channel().queue_delete(queue)
    import redis

    with contextlib.suppress(Exception):  # kombu's binding keys beside the queue
        client = redis.Redis.from_url(broker, socket_timeout=5)
        client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()


def fan_rate(job: SchedulerJob) -> dict[str, float]:
    run = run_to_end(job, "bench_fan1000", TIMEOUT_S)
    instances = _instances(job, run)
    first = min(ti.start_date for ti in instances if ti.start_date is not None)
    last = max(ti.end_date for ti in instances if ti.end_date is not None)
    hosts = {ti.hostname for ti in instances}
    return {"rate": len(instances) / _span_s(first, last), "hosts": float(len(hosts))}


def bench_celery(status: Status = _quiet, chain_tasks: int = CHAIN_TASKS,
                 fan_tasks: int = FAN_TASKS) -> dict[str, Any] | None:
    """The figures of both executors, or None when the services are not configured."""
    found = services()
    if found is None:
        return None
    postgres, broker = found
    figures: dict[str, Any] = {"celery.workers": WORKERS,
                               "celery.worker_concurrency": WORKER_CONCURRENCY}
    chain = CHAIN_DAG.format(tasks=chain_tasks)
    fan = FAN_DAG.format(tasks=fan_tasks)
    for name, chosen in (("local", None), ("celery", broker)):
        status(f"{name}: chain100 on PostgreSQL")
        with engine("bench_chain100", chain, postgres, chosen, status) as job:
            handoff = chain_handoffs(job, "bench_chain100", TIMEOUT_S)
        status(f"{name}: fan1000 on PostgreSQL")
        with engine("bench_fan1000", fan, postgres, chosen, status) as job:
            rate = fan_rate(job)
        figures[f"celery.{name}_chain100_handoff_median_ms"] = handoff["median"]
        figures[f"celery.{name}_chain100_handoff_p95_ms"] = handoff["p95"]
        figures[f"celery.{name}_chain100_total_s"] = handoff["total_s"]
        figures[f"celery.{name}_fan1000_tasks_per_s"] = rate["rate"]
        figures[f"celery.{name}_fan1000_hosts"] = rate["hosts"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--chain", type=int, default=CHAIN_TASKS, help="tasks in the chain")
    parser.add_argument("--fan", type=int, default=FAN_TASKS, help="tasks in the fan")
    args = parser.parse_args(argv)
    figures = bench_celery(lambda text: print(text, file=sys.stderr), args.chain, args.fan)
    if figures is None:
        print(SKIPPED)
        return 0
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    for key, value in figures.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
