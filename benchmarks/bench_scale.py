"""The scale workloads: fan20000, dags1000 and the chain100 handoff on PostgreSQL.

Usage: python benchmarks/bench_scale.py [--only fan20000|dags1000|pg_chain100 ...] [--json]

Every task is a real no-op ``PythonOperator`` run in its own worker process by the local
executor, through the engine ``millstream scheduler`` builds (see bench_engine.py).

- fan20000: 20,000 independent tasks in one run, tasks per second, beside a run of 1,000
  of the same tasks measured in the same workload (target: within 15 %). The scheduler's
  CPU per task (this process: the scheduler loop and the executor's client side) is
  reported for both (target: <= 1 ms): it must not grow with the run's finished tasks.
- dags1000: 1,000 DAGs, each a chain of 5 tasks scheduled every minute (catchup off), for
  ``DAGS_MINUTES`` minutes. Figures: scheduled runs created and intervals skipped in that
  window, the p99 delay between an interval's end and its run's creation (``queued_at``),
  and the scheduler's CPU as a share of one core over the window.
- pg_chain100: chain100 (bench_engine.py) on a fresh PostgreSQL database: median handoff
  against one bare fork. Needs MILLSTREAM_BENCH_POSTGRES_URL or MILLSTREAM_TEST_POSTGRES_URL.

Sizes can be made smaller for a quick look with MILLSTREAM_BENCH_FAN_TASKS and
MILLSTREAM_BENCH_DAGS_MINUTES.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import (
    CHAIN_DAG,
    _instances,
    _span_s,
    engine_for,
    fork_floor_s,
    run_to_end,
)
from workloads_cli import run_workloads

Status = Callable[[str], None]

FAN_TASKS = int(os.environ.get("MILLSTREAM_BENCH_FAN_TASKS", "20000"))
FAN_BASE_TASKS = 1000
DAGS = 1000
DAG_TASKS = 5
DAGS_MINUTES = float(os.environ.get("MILLSTREAM_BENCH_DAGS_MINUTES", "3"))
PARALLELISM = 8
TIMEOUT_S = 1800.0
NO_POSTGRES = ("pg_chain100: skipped, set MILLSTREAM_BENCH_POSTGRES_URL or "
               "MILLSTREAM_TEST_POSTGRES_URL to a PostgreSQL database to run it")

PY_FAN_DAG = """\
from datetime import datetime

from millstream import DAG
from millstream.operators.python import PythonOperator


def nothing():
    return None


with DAG("{dag_id}", start_date=datetime(2026, 1, 1), schedule=None,
         max_active_tasks={tasks}) as dag:
    for i in range({tasks}):
        PythonOperator(task_id=f"t{{i:05d}}", python_callable=nothing)
"""

DAGS_FILE = """\
from datetime import datetime

from millstream import DAG, chain
from millstream.operators.python import PythonOperator


def nothing():
    return None


START = datetime(2026, 1, 1)  # catchup is off: only the latest minute is run
for index in range({dags}):
    with DAG(f"bench_minute_{{index:04d}}", start_date=START, schedule="* * * * *",
             catchup=False) as dag:
        chain(*[PythonOperator(task_id=f"t{{t}}", python_callable=nothing)
                for t in range({tasks})])
    globals()[dag.dag_id] = dag
"""


def _quiet(message: str) -> None:
    """The default status callback: say nothing."""


def own_cpu_s() -> float:
    """CPU seconds of this process (the scheduler loop and the executor's client side)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _fan(tasks: int, dag_id: str, environ: dict[str, str]) -> dict[str, float]:
    with engine_for(dag_id, PY_FAN_DAG.format(dag_id=dag_id, tasks=tasks), environ) as job:
        cpu = own_cpu_s()
        run = run_to_end(job, dag_id, TIMEOUT_S)
        cpu = own_cpu_s() - cpu
        instances = _instances(job, run)
    first = min(ti.start_date for ti in instances if ti.start_date is not None)
    last = max(ti.end_date for ti in instances if ti.end_date is not None)
    return {"tasks_per_s": tasks / _span_s(first, last),
            "scheduler_cpu_per_task_ms": cpu / tasks * 1000}


def bench_fan20000(tasks: int = FAN_TASKS, status: Status = _quiet) -> dict[str, Any]:
    """``tasks`` independent no-op tasks against 1,000 of them, in the same workload."""
    environ = {"MILLSTREAM__SCHEDULER__PARALLELISM": str(PARALLELISM)}
    status(f"fan20000: {FAN_BASE_TASKS} independent tasks (the comparison)")
    base = _fan(FAN_BASE_TASKS, "bench_fan_base", environ)
    status(f"fan20000: {tasks} independent tasks")
    big = _fan(tasks, "bench_fan_big", environ)
    return {
        "fan20000.tasks": tasks,
        "fan20000.tasks_per_s": big["tasks_per_s"],
        "fan20000.fan1000_tasks_per_s": base["tasks_per_s"],
        "fan20000.slowdown_pct": (1 - big["tasks_per_s"] / base["tasks_per_s"]) * 100,
        "fan20000.scheduler_cpu_per_task_ms": big["scheduler_cpu_per_task_ms"],
        "fan20000.fan1000_scheduler_cpu_per_task_ms": base["scheduler_cpu_per_task_ms"],
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def bench_dags1000(minutes: float = DAGS_MINUTES, status: Status = _quiet) -> dict[str, Any]:
    """1,000 five-task DAGs every minute: runs created on time, skipped, scheduler CPU."""
    from millstream.model.states import TaskState
    from millstream.store.records import SCHEDULED_RUN

    environ = {"MILLSTREAM__SCHEDULER__PARALLELISM": str(PARALLELISM)}
    source = DAGS_FILE.format(dags=DAGS, tasks=DAG_TASKS)
    status(f"dags1000: parsing {DAGS} DAGs of {DAG_TASKS} tasks")
    with engine_for("bench_minute_0000", source, environ) as job:
        begin = datetime.now(UTC)
        # The window: every minute that ends after the first round; its last minute has
        # ended early enough for its runs to be made before the end.
        window_start = begin.replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = begin + timedelta(minutes=minutes)
        window_end = end.replace(second=0, microsecond=0)
        if end - window_end < timedelta(seconds=10):
            window_end -= timedelta(minutes=1)
        deadline = time.monotonic() + (end - begin).total_seconds()
        cpu_start = own_cpu_s()
        wall_start = time.perf_counter()
        status(f"dags1000: running {minutes:g} minutes of minute schedules")
        job.run(until=lambda: time.monotonic() >= deadline)
        cpu = own_cpu_s() - cpu_start
        wall = time.perf_counter() - wall_start
        with job.store.transaction():
            runs = [run for run in job.store.runs.list()
                    if run.run_type == SCHEDULED_RUN
                    and window_start <= run.data_interval_end <= window_end]
            finished = len(job.store.task_instances.in_states([TaskState.SUCCESS]))
    minutes_in_window = int((window_end - window_start) / timedelta(minutes=1)) + 1
    expected = DAGS * minutes_in_window
    delays = [((run.queued_at or run.data_interval_end) - run.data_interval_end).total_seconds()
              for run in runs]
    return {
        "dags1000.dags": DAGS,
        "dags1000.minutes": minutes_in_window,
        "dags1000.expected": expected,
        "dags1000.created": len(runs),
        "dags1000.skipped": expected - len(runs),
        "dags1000.delay_p99_s": _percentile(delays, 0.99) if delays else float("nan"),
        "dags1000.delay_max_s": max(delays, default=float("nan")),
        "dags1000.scheduler_cpu_pct": cpu / wall * 100,
        "dags1000.tasks_succeeded": finished,
    }


def postgres_url() -> str | None:
    return (os.environ.get("MILLSTREAM_BENCH_POSTGRES_URL")
            or os.environ.get("MILLSTREAM_TEST_POSTGRES_URL"))


@contextlib.contextmanager
def fresh_postgres_database(base_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``base_url`` (dropped on exit)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"millstream_bench_{uuid.uuid4().hex[:10]}"
    url = make_url(base_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_pg_chain100(tasks: int = 100, status: Status = _quiet) -> dict[str, Any] | None:
    """chain100's median handoff with the metadata in PostgreSQL; None without a server."""
    base = postgres_url()
    if base is None:
        return None
    with fresh_postgres_database(base) as url:
        status("pg_chain100: running 100 chained tasks on PostgreSQL")
        environ = {"MILLSTREAM__DATABASE__URL": url}
        with engine_for("bench_chain100", CHAIN_DAG.format(tasks=tasks), environ) as job:
            cpu = own_cpu_s()
            run = run_to_end(job, "bench_chain100", TIMEOUT_S)
            cpu = own_cpu_s() - cpu
            instances = _instances(job, run)
    handoffs = [_span_s(a.end_date, b.start_date) * 1000
                for a, b in itertools.pairwise(instances)]
    status("pg_chain100: measuring the fork floor")
    floor_ms = fork_floor_s(tasks) / tasks * 1000
    return {
        "pg_chain100.handoff_median_ms": statistics.median(handoffs),
        "pg_chain100.handoff_floor_ms": floor_ms,
        "pg_chain100.total_s": _span_s(run.start_date, run.end_date),
        "pg_chain100.scheduler_cpu_per_task_ms": cpu / tasks * 1000,
    }


WORKLOADS: dict[str, Callable[[], dict[str, Any] | None]] = {
    "fan20000": bench_fan20000,
    "dags1000": bench_dags1000,
    "pg_chain100": bench_pg_chain100,
}


def main(argv: list[str] | None = None) -> int:
    """Run the workloads and print their figures (as JSON with ``--json``)."""
    return run_workloads(__doc__.splitlines()[0], WORKLOADS, argv)


if __name__ == "__main__":
    sys.exit(main())
