"""The history workload: the scheduler and the UI with and without 1,000,000 rows of history.

Usage: python benchmarks/bench_history.py [--only sqlite|postgres ...] [--json]

Each database kind (SQLite; PostgreSQL when MILLSTREAM_BENCH_POSTGRES_URL or
MILLSTREAM_TEST_POSTGRES_URL is set) is measured twice: with a page of history (25
finished runs of each of the 50 DAGs on the DAG list's first page: what the pages show,
so they show the same), and with ``RUNS_PER_DAG`` finished runs of each of the 1,000 DAGs
of 10 tasks (100,000 runs, 1,000,000 task instances, written in bulk). Each DAG is
scheduled every minute, catchup off. On each, with the real scheduler job over a
stand-in executor (8 slots, its tries held; nothing is forked, so only the scheduler's
own work is timed):

- creation: one scheduler round's run creation for the 1,000 due DAGs (in as many steps
  as ``max_runs_per_tick`` allows), in seconds;
- first tick: the tick that starts those 1,000 runs, evaluates and dispatches;
- tick: the median of 30 ticks that each apply one outcome and dispatch the next task;
- round: the median of 5 quiet scheduling rounds (``job.step`` when a round is due);
- through the web app (login, middleware, store per request): the median of 20 requests
  of the DAG list, a DAG's grid, and the REST API's newest 100 runs.

Each figure is reported for the full history with its ratio to the page of history
(the target: within 20 %), whose figure is the floor.
"""

from __future__ import annotations

import gc
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import fresh_postgres_database, postgres_url
from workloads_cli import run_workloads

Status = Callable[[str], None]

DAGS = 1000
TASKS = 10
RUNS_PER_DAG = int(os.environ.get("MILLSTREAM_BENCH_HISTORY_RUNS_PER_DAG", "100"))
PAGE_DAGS = 50
PAGE_RUNS = 25
SLOTS = 8
STEADY_TICKS = 30
REQUESTS = 20
NOW = datetime(2026, 6, 1, 12, 0, 1, tzinfo=UTC)
HISTORY_START = NOW - timedelta(minutes=max(RUNS_PER_DAG, PAGE_RUNS) + 60)
TI_COLUMNS = ("dag_id", "run_id", "task_id", "map_index", "state", "try_number", "max_tries",
              "pool", "pool_slots", "queue", "priority_weight", "start_date", "end_date")
RUN_COLUMNS = ("dag_id", "run_id", "logical_date", "data_interval_start",
               "data_interval_end", "run_type", "state", "conf", "queued_at", "start_date",
               "end_date")


def _quiet(message: str) -> None:
    """The default status callback: say nothing."""


class HeldExecutor:
    """An executor that holds what it is given; the benchmark reports its outcomes."""

    def __init__(self) -> None:
        self.held: list[Any] = []
        self.events: list[Any] = []

    def open_slots(self) -> int:
        return SLOTS - len(self.held)

    def submit(self, workload: Any) -> None:
        self.held.append(workload)

    def finish_one(self, now: datetime) -> None:
        from millstream.model.states import TaskState
        from millstream.runtime.events import TaskFinishedEvent

        workload = self.held.pop(0)
        self.events.append(TaskFinishedEvent(workload.key, workload.try_number,
                                             TaskState.SUCCESS, now, now,
                                             step_id=workload.step_id))

    def drain_events(self) -> list[Any]:
        events, self.events = self.events, []
        return events

    def sync(self) -> None:
        return None

    def has_work(self) -> bool:
        return bool(self.events)

    def wait_for_events(self, timeout: float) -> bool:
        return bool(self.events)

    def in_flight(self) -> set[Any]:
        return {workload.key for workload in self.held}

    def running_pids(self) -> dict[Any, int]:
        return {}

    def terminate(self, key: Any) -> None:
        return None


def _structures() -> list[tuple[str, str, str]]:
    from millstream import DAG, chain
    from millstream.operators.empty import EmptyOperator
    from millstream.parsing.serialize import DagStructure

    found = []
    for index in range(DAGS):
        with DAG(f"bench_history_{index:04d}", schedule="* * * * *", catchup=False,
                 start_date=HISTORY_START) as dag:
            chain(*[EmptyOperator(task_id=f"step_{t:02d}") for t in range(TASKS)])
        structure = DagStructure.from_dag(dag)
        found.append((dag.dag_id, structure.to_json(), structure.version))
    return found


def _history_rows(dags: int, runs_per_dag: int
                  ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    runs, instances = [], []
    for index in range(dags):
        dag_id = f"bench_history_{index:04d}"
        for minute in range(runs_per_dag):
            start = HISTORY_START + timedelta(minutes=minute)
            end = start + timedelta(minutes=1)
            run_id = f"scheduled__{start.isoformat()}"
            runs.append((dag_id, run_id, start, start, end, "scheduled", "success", "{}",
                         end, end, end + timedelta(seconds=5)))
            for t in range(TASKS):
                instances.append((dag_id, run_id, f"step_{t:02d}", -1, "success", 1, 0,
                                  "default_pool", 1, "default", TASKS - t, end,
                                  end + timedelta(seconds=t)))
    return runs, instances


def _sqlite_value(value: Any) -> Any:
    # As the store writes them: UTC without an offset (see store/sql/types.py).
    if isinstance(value, datetime):
        naive = value.astimezone(UTC).replace(tzinfo=None)
        return naive.isoformat(sep=" ", timespec="microseconds")
    return value


def _bulk_insert(url: str, table: str, columns: tuple[str, ...],
                 rows: Iterable[tuple[Any, ...]]) -> None:
    """Rows written the fastest way each database has (COPY on PostgreSQL)."""
    if url.startswith("sqlite"):
        import sqlite3

        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        marks = ", ".join("?" for _ in columns)
        with connection:
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                (tuple(_sqlite_value(v) for v in row) for row in rows))
        connection.close()
        return
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection, connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {table}")  # as autovacuum would, on a live database


def prepare(url: str, history: bool, status: Status) -> int:
    """Migrate, store the DAGs and an admin, and (``history``) the generated history."""
    from millstream.api import accounts
    from millstream.store.sql import SqlStore
    from millstream.store.sql.migrate import migrate

    migrate(url)
    store = SqlStore.from_url(url)
    try:
        accounts.create_user(store, "admin", "bench-password", "admin", "bench", NOW)
        with store.transaction():
            for dag_id, text, version in _structures():
                store.dags.upsert(dag_id, f"/dags/{dag_id}.py", text, version, NOW)
    finally:
        store.close()
        store.engine.dispose()
    dags, runs_per_dag = (DAGS, RUNS_PER_DAG) if history else (PAGE_DAGS, PAGE_RUNS)
    status(f"history: writing {dags * runs_per_dag:,} runs and "
           f"{dags * runs_per_dag * TASKS:,} task instances")
    runs, instances = _history_rows(dags, runs_per_dag)
    _bulk_insert(url, "dag_run", RUN_COLUMNS, runs)
    _bulk_insert(url, "task_instance", TI_COLUMNS, instances)
    return len(instances)


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure_scheduler(url: str) -> dict[str, float]:
    """The scheduler's round, creation and tick times on the prepared database."""
    from millstream.scheduler.callbacks import InlineCallbackRunner
    from millstream.scheduler.job import SchedulerJob
    from millstream.store.sql import SqlStore

    store = SqlStore.from_url(url)
    executor = HeldExecutor()
    now = NOW
    job = SchedulerJob(store, executor, lambda _store, _now: None, lambda _key, _try: None,
                       InlineCallbackRunner({}), clock=lambda: now)
    try:
        job.load_dags()
        job.scheduler.poke(reevaluate=False)
        # A full collection of Python's objects traverses all of them, here also what the
        # other case's web app left (0.1 s in all), and comes after a count of allocations
        # since the last one, here also the history rows this process generated. Whether
        # one falls inside a step timed once (creation, first tick) depends on those, not
        # on the history: so what is alive now is left out of the collections while the
        # scheduler is timed, which still collect everything the scheduler allocates.
        gc.collect()
        gc.freeze()

        def create_all() -> None:
            job.create_runs(now)
            while job._resume_after is not None:  # the rest of the round, step by step
                job.create_runs(now)

        creation = _timed(create_all)
        first_tick = _timed(lambda: job.scheduler.tick(now))
        ticks = []
        for _ in range(STEADY_TICKS):
            now += timedelta(milliseconds=10)
            executor.finish_one(now)
            ticks.append(_timed(lambda moment=now: job.scheduler.tick(moment)))
        rounds = []
        for _ in range(5):
            now += timedelta(seconds=1.5)  # a scheduling round is due on each step
            rounds.append(_timed(lambda moment=now: job.step(moment)))
    finally:
        gc.unfreeze()
        store.close()
        store.engine.dispose()
    return {"creation_s": creation, "first_tick_s": first_tick,
            "tick_ms": statistics.median(ticks) * 1000,
            "round_ms": statistics.median(rounds) * 1000}


def measure_ui(url: str, home: Path) -> dict[str, float]:
    """Median times (ms) of the DAG list, a grid and the API's newest runs, via the app."""
    from fastapi.testclient import TestClient

    from millstream.config import load_settings
    from millstream.ui.catalog import CATALOG
    from millstream.ui.server import create_app

    settings = load_settings(home=home, environ={"MILLSTREAM__DATABASE__URL": url})
    CATALOG.clear()
    pages = {"dag_list_ms": "/dags", "grid_ms": "/dags/bench_history_0000/grid",
             "api_dag_runs_ms": "/api/v1/dags/~/dagRuns?limit=100"}
    figures = {}
    with TestClient(create_app(settings)) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None, "the login page has no CSRF token"
        client.post("/login", follow_redirects=False, data={
            "username": "admin", "password": "bench-password", "next": "/dags",
            "csrf_token": token.group(1)})
        for name, path in pages.items():
            samples = []
            for _ in range(REQUESTS + 2):
                start = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"GET {path}: {response.status_code}")
            figures[name] = statistics.median(samples[2:])
    return figures


def _measure(url: str, home: Path, history: bool, status: Status) -> dict[str, float]:
    rows = prepare(url, history, status)
    status(f"history: timing the scheduler ({'history' if history else 'a page of history'})")
    figures = measure_scheduler(url)
    status(f"history: timing the web pages ({'history' if history else 'a page of history'})")
    figures.update(measure_ui(url, home))
    figures["task_instances"] = rows
    return figures


def _compare(kind: str, page: dict[str, float], full: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {f"history.{kind}.task_instances": full["task_instances"]}
    for name in ("creation_s", "first_tick_s", "tick_ms", "round_ms", "dag_list_ms",
                 "grid_ms", "api_dag_runs_ms"):
        out[f"history.{kind}.{name}"] = full[name]
        out[f"history.{kind}.{name}_page"] = page[name]
        out[f"history.{kind}.{name}_ratio"] = full[name] / page[name]
    return out


def bench_history_sqlite(status: Status = _quiet) -> dict[str, Any]:
    results = {}
    for history in (False, True):
        with tempfile.TemporaryDirectory(prefix="millstream-history-") as folder:
            url = f"sqlite:///{folder}/history.db"
            results[history] = _measure(url, Path(folder), history, status)
    return _compare("sqlite", results[False], results[True])


def bench_history_postgres(status: Status = _quiet) -> dict[str, Any] | None:
    base = postgres_url()
    if base is None:
        return None
    results = {}
    for history in (False, True):
        with fresh_postgres_database(base) as url, \
                tempfile.TemporaryDirectory(prefix="millstream-history-") as folder:
            results[history] = _measure(url, Path(folder), history, status)
    return _compare("postgres", results[False], results[True])


WORKLOADS: dict[str, Callable[[], dict[str, Any] | None]] = {
    "sqlite": bench_history_sqlite,
    "postgres": bench_history_postgres,
}


def main(argv: list[str] | None = None) -> int:
    """Run the workloads and print their figures (as JSON with ``--json``)."""
    return run_workloads(__doc__.splitlines()[0], WORKLOADS, argv)


if __name__ == "__main__":
    sys.exit(main())
