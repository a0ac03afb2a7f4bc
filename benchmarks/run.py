"""Run every benchmark workload and print its figures next to the floor measured in the same run.

Usage: python benchmarks/run.py [--json FILE] [--only NAME [NAME ...]]

Absolute times vary between machines, so each workload also measures a floor on this
machine (the least work that could do the same job) and reports overhead = measured /
floor (for a rate, where more is better: floor rate / measured rate, so an overhead
above 1 always means "that many times worse than the floor").

Workloads (DESIGN.md section 5; each lives in a module of its own, this file composes):

- chain100 (bench_engine.py): 100 no-op tasks in a chain through the real scheduler and
  local executor on SQLite. Median handoff (floor: one bare fork + exit + wait) and
  whole run (floor: 100 of them).
- fan1000 (bench_engine.py): 1000 independent no-op tasks, tasks per second (floor:
  bare forks per second).
- parse200 (bench_parse.py): 200 DAG files of 10 tasks parsed in worker processes
  (floor: the same files loaded one after another in this process).
- test100: chain100 under ``dag.test()`` (floor: the same operators executed in a loop).
- import: ``import millstream`` over a bare interpreter start (floor: the bare start).
- idle (bench_idle.py): resident memory of an idle ``millstream standalone`` (scheduler,
  web server and triggerer in one process; the examples parsed and paused) and its child
  processes, summed, with their PSS (floor: a bare interpreter).
- triggerer (bench_triggerer.py): resident memory of ``millstream triggerer`` while 1000
  time triggers wait at once (floor: a bare asyncio loop of 1000 sleeping tasks).
- etl (bench_etl.py): the etl_sales_pipeline example on 1,000,000 generated orders in
  PostgreSQL: rows/s extracted, transformed and loaded (floors: a bare COPY out, a bare
  CSV pass, a bare COPY in of the same rows). Needs MILLSTREAM_BENCH_POSTGRES_URL or
  MILLSTREAM_TEST_POSTGRES_URL; without either it says so and measures nothing.
- ui (bench_ui.py): p95 of the DAG list, of a DAG's grid page, of the overview and of the
  REST API's newest 100 runs through the web app, with 1,000 DAGs and 10,000 runs on
  SQLite, and of the grid of a DAG of 1,000 tasks x 25 runs (floor: the app's smallest
  page).
- fan20000 (bench_scale.py): 20,000 independent no-op PythonOperator tasks, tasks per
  second against 1,000 of them in the same run (the floor), and the scheduler's CPU per
  task.
- dags1000 (bench_scale.py): 1,000 DAGs of 5 chained tasks every minute for 3 minutes:
  runs created, intervals skipped, p99 creation delay, scheduler CPU share of one core.
- history (bench_history.py): the scheduler's run creation, ticks and rounds and three
  web pages, with 1,000,000 task instances of history against a page of history (the
  floor), on SQLite and (with a PostgreSQL URL as for etl) PostgreSQL.
- pg_chain100 (bench_scale.py): chain100's handoff with the metadata in PostgreSQL.
- browsing (bench_browsing.py): chain100's median and p95 handoff on SQLite while another
  process draws the chain's grid, live grid and API run list through the web app without
  a pause (floor: the same chain alone, in the same run).

The machine's load average is printed before and after: figures taken on a busy machine
are not comparable with those of an idle one.

- celery (bench_celery.py): chain100's median handoff and fan1000's tasks/s on the Celery
  executor with two ``millstream worker`` processes over Redis (floor: the local executor
  on the same PostgreSQL server, measured in the same run). Needs a PostgreSQL URL as
  etl does and MILLSTREAM_TEST_REDIS_URL; without them it says so and measures nothing.

With ``--json FILE`` every figure is written under its key, each floor under the
figure's floor key (``<workload>.floor``, or ``chain100.handoff_floor_ms`` for the
handoff) and each overhead under ``<workload>.overhead_ratio`` (or
``chain100.handoff_overhead_ratio``), with the workloads' secondary figures beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPEATS = 5

Status = Callable[[str], None]


@dataclass
class Figure:
    """One measured figure, its target, and the floor it is compared with."""

    key: str
    value: float
    unit: str
    target: float
    floor: float | None = None
    floor_unit: str | None = None
    floor_key: str | None = None  # default: "<workload>.floor"
    ratio_key: str | None = None  # default: "<workload>.overhead_ratio"
    higher_is_better: bool = False
    detail: str = ""
    extra: dict[str, float] = field(default_factory=dict)  # secondary figures, for --json

    @property
    def workload(self) -> str:
        return self.key.split(".")[0]

    @property
    def overhead_ratio(self) -> float | None:
        if not self.floor or not self.value:
            return None
        return self.floor / self.value if self.higher_is_better else self.value / self.floor

    @property
    def meets_target(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def target_text(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.target:g} {self.unit}"

    def json_items(self) -> dict[str, float]:
        items: dict[str, float] = {self.key: self.value}
        if self.floor is not None:
            items[self.floor_key or f"{self.workload}.floor"] = self.floor
            ratio = self.overhead_ratio
            if ratio is not None:
                items[self.ratio_key or f"{self.workload}.overhead_ratio"] = ratio
        items.update(self.extra)
        return items


def _numbers(figures: dict[str, Any], *keys: str) -> dict[str, float]:
    return {k: float(figures[k]) for k in keys if isinstance(figures.get(k), int | float)}


def _median_seconds(action: Callable[[], object], repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# -- the workloads --------------------------------------------------------------------------
def bench_chain100(status: Status) -> list[Figure]:
    """chain100 through the real scheduler: median handoff and whole run."""
    from bench_engine import bench_chain100 as run

    f = run(status=status)
    loaded = f["chain100.loaded_fork_ms"]
    return [
        Figure("chain100.handoff_median_ms", f["chain100.handoff_median_ms"], "ms", 2.0,
               f["chain100.handoff_floor_ms"], "ms/fork", "chain100.handoff_floor_ms",
               "chain100.handoff_overhead_ratio",
               detail=f"p95 {f['chain100.handoff_p95_ms']:.3g} ms; CPU per task "
                      f"{f['chain100.cpu_per_task_ms']:.3g} ms (scheduler, fork server, "
                      "zygote and tries, start-up included); a fork from a process "
                      f"with the engine loaded: {loaded:.3g} ms; a try's files on this "
                      f"disk: {f['chain100.try_files_ms']:.3g} ms CPU",
               extra=_numbers(f, "chain100.handoff_p95_ms", "chain100.loaded_fork_ms",
                              "chain100.cpu_per_task_ms", "chain100.try_files_ms")),
        Figure("chain100.total_s", f["chain100.total_s"], "s", 0.4, f["chain100.floor"], "s",
               detail=f"floor: {f['chain100.tasks']} bare forks"),
    ]


def bench_fan1000(status: Status) -> list[Figure]:
    """fan1000 through the real scheduler: tasks per second against bare forks per second."""
    from bench_engine import bench_fan1000 as run

    f = run(status=status)
    return [
        Figure("fan1000.tasks_per_s", f["fan1000.tasks_per_s"], "tasks/s", 1000.0,
               f["fan1000.floor"], "forks/s", higher_is_better=True,
               detail=f"parallelism {f['fan1000.parallelism']}, {os.cpu_count()} cores; "
                      f"CPU per task {f['fan1000.cpu_per_task_ms']:.3g} ms (whole engine); "
                      f"forks from a loaded process: {f['fan1000.loaded_fork_per_s']:.4g}/s; "
                      f"a try's files on this disk: {f['fan1000.try_files_ms']:.3g} ms CPU",
               extra=_numbers(f, "fan1000.run_s", "fan1000.parallelism",
                              "fan1000.loaded_fork_per_s", "fan1000.cpu_per_task_ms",
                              "fan1000.try_files_ms")),
    ]


def bench_parse200(status: Status) -> list[Figure]:
    """parse200: 200 DAG files of 10 tasks, parsed in worker processes."""
    from bench_parse import TARGET_S
    from bench_parse import bench_parse200 as run

    status("parse200: parsing 200 fresh DAG files (3 repeats)")
    f = run()
    return [
        Figure("parse200.total_s", f["parse200.total_s"], "s", TARGET_S,
               f["parse200.floor_s"], "s",
               detail=f"{f['dags']} DAGs; unchanged re-check {f['parse200.unchanged_s']:.3g} s; "
                      f"floor: load_dag_file in this process",
               extra=_numbers(f, "parse200.unchanged_s")),
    ]


def bench_test100(status: Status) -> list[Figure]:
    """chain100 under dag.test(); floor: the same 100 operators executed in a plain loop."""
    from millstream import DAG, chain
    from millstream.operators.python import PythonOperator

    def nothing() -> None:
        return None

    def build() -> DAG:
        with DAG("bench_test100") as dag:
            chain(*[PythonOperator(task_id=f"t{i:03d}", python_callable=nothing)
                    for i in range(100)])
        return dag

    status("test100: dag.test() of 100 chained tasks")
    dag = build()
    total = _median_seconds(lambda: dag.test(logical_date="2026-01-01"))
    result = dag.test(logical_date="2026-01-01")
    if result.state != "success":
        raise RuntimeError(f"test100 run ended {result.state}")

    def floor() -> None:
        for task in dag.topological_sort():
            task.execute({})

    floor_s = _median_seconds(lambda: (build(), floor()))
    return [Figure("test100.total_s", total, "s", 0.2, floor_s, "s",
                   detail="floor: build the DAG, execute() each task in a loop")]


def bench_import(status: Status) -> list[Figure]:
    """``python -c "import millstream"`` minus bare ``python -c pass`` (best of several)."""

    def best(code: str) -> float:
        samples = []
        for _ in range(REPEATS * 2):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - start)
        return min(samples)

    status("import: timing interpreter starts")
    bare = best("pass")
    with_import = best("import millstream")
    return [Figure("import.overhead_ms", (with_import - bare) * 1000, "ms", 150.0,
                   bare * 1000, "ms", detail="floor: bare `python -c pass`")]


def bench_idle(status: Status) -> list[Figure]:
    """Resident memory of an idle ``millstream standalone`` plus its children, summed."""
    from bench_idle import TARGET_MB
    from bench_idle import bench_idle as run

    f = run(status=status)
    leftover = f["idle.leftover_processes"]
    detail = (f"standalone (scheduler, web server, triggerer) with {f['idle.dags']} paused "
              f"DAGs and {f['idle.runs']} runs; sum of VmRSS: standalone "
              f"{f['idle.standalone_rss_mb']:.3g} MB + {f['idle.children']} children "
              f"{f['idle.children_rss_mb']:.3g} MB ({f['idle.children_each']}); "
              f"PSS {f['idle.pss_mb']:.3g} MB")
    if leftover:
        detail += f"; {leftover} processes outlived SIGTERM (killed)"
    return [
        Figure("idle.rss_mb", f["idle.rss_mb"], "MB", TARGET_MB, f["idle.floor"], "MB",
               detail=detail,
               extra=_numbers(f, "idle.standalone_rss_mb", "idle.children_rss_mb",
                              "idle.children", "idle.pss_mb", "idle.dags", "idle.runs",
                              "idle.leftover_processes")),
    ]


def bench_triggerer(status: Status) -> list[Figure]:
    """Resident memory of ``millstream triggerer`` running 1000 time triggers at once."""
    from bench_triggerer import TARGET_MB
    from bench_triggerer import bench_triggerer as run

    f = run(status=status)
    return [
        Figure("triggerer.rss_mb", f["triggerer.rss_mb"], "MB", TARGET_MB, f["triggerer.floor"],
               "MB",
               detail=f"{f['triggerer.triggers']} concurrent time triggers; every task resumed "
                      f"{f['triggerer.fire_lag_s']:.3g} s after the triggers' moment; floor: a "
                      "bare asyncio loop of as many sleeping tasks",
               extra=_numbers(f, "triggerer.triggers", "triggerer.fire_lag_s")),
    ]


def bench_etl(status: Status) -> list[Figure]:
    """etl_sales_pipeline's rows/s per phase on PostgreSQL, against bare COPY and CSV passes."""
    from bench_etl import SKIPPED, TARGET_ROWS_PER_S
    from bench_etl import bench_etl as run

    f = run(status=status)
    if f is None:
        print(SKIPPED)
        return []
    figures = []
    for phase in ("extract", "transform", "load"):
        figures.append(Figure(
            f"etl.{phase}_rows_per_s", f[f"etl.{phase}_rows_per_s"], "rows/s",
            TARGET_ROWS_PER_S, f[f"etl.{phase}_floor_rows_per_s"], "rows/s",
            f"etl.{phase}_floor_rows_per_s", f"etl.{phase}_overhead_ratio",
            higher_is_better=True,
            detail=f"{f[f'etl.{phase}_s']:.3g} s for {f['etl.orders']:,} orders "
                   f"(median of {f['etl.repeats']})",
        ))
    figures[-1].detail += (f"; {f['etl.rows_loaded']:,} rows loaded; summary rebuild "
                           f"{f['etl.summary_s']:.3g} s, validation {f['etl.validate_s']:.3g} s, "
                           f"whole run {f['etl.run_s']:.3g} s")
    figures[-1].extra = _numbers(f, "etl.orders", "etl.rows_loaded", "etl.summary_s",
                                 "etl.validate_s", "etl.run_s")
    return figures


def bench_ui(status: Status) -> list[Figure]:
    """The DAG list and a DAG's grid page, 1,000 DAGs and 10,000 runs on SQLite."""
    from bench_ui import TARGET_MS, WIDE_TARGET_MS
    from bench_ui import bench_ui as run

    f = run(status=status)
    floor = f["ui.floor_p95_ms"]
    extra = _numbers(f, "ui.dag_list_p50_ms", "ui.dag_list_filtered_p95_ms", "ui.grid_p50_ms",
                     "ui.grid_small_p95_ms", "ui.dag_list_cold_ms", "ui.floor_p50_ms")
    return [
        Figure("ui.dag_list_p95_ms", f["ui.dag_list_p95_ms"], "ms", TARGET_MS, floor, "ms",
               "ui.floor", "ui.dag_list_overhead_ratio",
               detail=f"{f['ui.dags']} DAGs, {f['ui.runs']} runs; p50 "
                      f"{f['ui.dag_list_p50_ms']:.3g} ms; filtered by tag and text p95 "
                      f"{f['ui.dag_list_filtered_p95_ms']:.3g} ms; first load (cold cache) "
                      f"{f['ui.dag_list_cold_ms']:.3g} ms; floor: the smallest page",
               extra=extra),
        Figure("ui.grid_p95_ms", f["ui.grid_p95_ms"], "ms", TARGET_MS, floor, "ms",
               "ui.floor", "ui.grid_overhead_ratio",
               detail=f"the grid of a DAG with 1,009 runs (its newest 25); p50 "
                      f"{f['ui.grid_p50_ms']:.3g} ms"),
        Figure("ui.api_dag_runs_p95_ms", f["ui.api_dag_runs_p95_ms"], "ms", TARGET_MS, floor,
               "ms", "ui.floor", "ui.api_dag_runs_overhead_ratio",
               detail=f"GET /api/v1/dags/~/dagRuns?limit=100 of {f['ui.runs']} runs; p50 "
                      f"{f['ui.api_dag_runs_p50_ms']:.3g} ms"),
        Figure("ui.overview_p95_ms", f["ui.overview_p95_ms"], "ms", TARGET_MS, floor, "ms",
               "ui.floor", "ui.overview_overhead_ratio",
               detail=f"the home page over {f['ui.runs']} runs, last day; p50 "
                      f"{f['ui.overview_p50_ms']:.3g} ms; last week p95 "
                      f"{f['ui.overview_week_p95_ms']:.3g} ms"),
        Figure("ui.grid_wide_p95_ms", f["ui.grid_wide_p95_ms"], "ms", WIDE_TARGET_MS, floor,
               "ms", "ui.floor", "ui.grid_wide_overhead_ratio",
               detail=f"the grid of a DAG of 1,000 tasks x 25 runs; p50 "
                      f"{f['ui.grid_wide_p50_ms']:.3g} ms"),
    ]


def bench_fan20000(status: Status) -> list[Figure]:
    """20,000 independent tasks against 1,000 of the same in the same run."""
    from bench_scale import bench_fan20000 as run

    f = run(status=status)
    slowdown = f["fan20000.slowdown_pct"]
    compared = f"{slowdown:.3g} % slower" if slowdown >= 0 else f"{-slowdown:.3g} % faster"
    return [
        Figure("fan20000.tasks_per_s", f["fan20000.tasks_per_s"], "tasks/s",
               f["fan20000.fan1000_tasks_per_s"] * 0.85, f["fan20000.fan1000_tasks_per_s"],
               "tasks/s (fan1000)", higher_is_better=True,
               detail=f"{f['fan20000.tasks']} tasks, {compared} "
                      f"than 1,000 (target: within 15 %); scheduler CPU per task "
                      f"{f['fan20000.scheduler_cpu_per_task_ms']:.3g} ms (1,000: "
                      f"{f['fan20000.fan1000_scheduler_cpu_per_task_ms']:.3g} ms)",
               extra=_numbers(f, "fan20000.fan1000_tasks_per_s", "fan20000.slowdown_pct",
                              "fan20000.fan1000_scheduler_cpu_per_task_ms")),
        Figure("fan20000.scheduler_cpu_per_task_ms", f["fan20000.scheduler_cpu_per_task_ms"],
               "ms", 1.0, f["fan20000.fan1000_scheduler_cpu_per_task_ms"], "ms (fan1000)",
               "fan20000.scheduler_cpu_floor_ms", "fan20000.scheduler_cpu_ratio",
               detail="the scheduler process (loop and executor client), per task"),
    ]


def bench_dags1000(status: Status) -> list[Figure]:
    """1,000 DAGs of 5 tasks every minute: every interval created, on time."""
    from bench_scale import bench_dags1000 as run

    f = run(status=status)
    detail = (f"{f['dags1000.created']} of {f['dags1000.expected']} runs in "
              f"{f['dags1000.minutes']} minutes; delay max {f['dags1000.delay_max_s']:.3g} s; "
              f"{f['dags1000.tasks_succeeded']} tasks succeeded")
    extra = _numbers(f, "dags1000.created", "dags1000.expected", "dags1000.delay_max_s",
                     "dags1000.tasks_succeeded")
    return [
        Figure("dags1000.skipped", f["dags1000.skipped"], "runs", 0.0, detail=detail,
               extra=extra),
        Figure("dags1000.delay_p99_s", f["dags1000.delay_p99_s"], "s", 2.0,
               detail="from an interval's end to its run's creation"),
        Figure("dags1000.scheduler_cpu_pct", f["dags1000.scheduler_cpu_pct"], "%", 30.0,
               detail="the scheduler process's CPU time over the window, of one core"),
    ]


def bench_browsing(status: Status) -> list[Figure]:
    """chain100 on SQLite while the web server draws its pages; floor: the chain alone."""
    from bench_browsing import MEDIAN_TARGET_MS, P95_TARGET_MS
    from bench_browsing import bench_browsing as run

    f = run(status=status)
    return [
        Figure("browsing.handoff_median_ms", f["browsing.handoff_median_ms"], "ms",
               MEDIAN_TARGET_MS, f["browsing.floor"], "ms (alone)",
               detail=f"{f['browsing.pages']:.0f} pages drawn meanwhile (grid, live grid, "
                      "API runs), one after another; floor: the same chain alone, in this run"),
        Figure("browsing.handoff_p95_ms", f["browsing.handoff_p95_ms"], "ms", P95_TARGET_MS,
               f["browsing.floor_p95_ms"], "ms (alone)", "browsing.floor_p95_ms",
               "browsing.p95_overhead_ratio"),
    ]


def bench_history(status: Status) -> list[Figure]:
    """Scheduler and web pages with 1,000,000 task instances of history, per database."""
    from bench_history import bench_history_postgres, bench_history_sqlite
    from bench_scale import NO_POSTGRES

    figures = []
    for kind, run in (("sqlite", bench_history_sqlite), ("postgres", bench_history_postgres)):
        f = run(status=status)
        if f is None:
            print(NO_POSTGRES.replace("pg_chain100", "history on PostgreSQL"))
            continue
        for name, unit in (("creation_s", "s"), ("first_tick_s", "s"), ("tick_ms", "ms"),
                           ("round_ms", "ms"), ("dag_list_ms", "ms"), ("grid_ms", "ms"),
                           ("api_dag_runs_ms", "ms")):
            key = f"history.{kind}.{name}"
            figures.append(Figure(
                key, f[key], unit, f[f"{key}_page"] * 1.2, f[f"{key}_page"], unit,
                f"{key}_page", f"{key}_ratio",
                detail=(f"{f[f'history.{kind}.task_instances']:,} task instances of history "
                        "against a page of it; target: within 20 %")
                if name == "creation_s" else ""))
    return figures


def bench_pg_chain100(status: Status) -> list[Figure]:
    """chain100's handoff with the metadata in PostgreSQL."""
    from bench_scale import NO_POSTGRES
    from bench_scale import bench_pg_chain100 as run

    f = run(status=status)
    if f is None:
        print(NO_POSTGRES)
        return []
    return [Figure("pg_chain100.handoff_median_ms", f["pg_chain100.handoff_median_ms"], "ms",
                   4.0, f["pg_chain100.handoff_floor_ms"], "ms/fork",
                   "pg_chain100.handoff_floor_ms", "pg_chain100.handoff_overhead_ratio",
                   detail=f"whole run {f['pg_chain100.total_s']:.3g} s; scheduler CPU per "
                          f"task {f['pg_chain100.scheduler_cpu_per_task_ms']:.3g} ms",
                   extra=_numbers(f, "pg_chain100.total_s",
                                  "pg_chain100.scheduler_cpu_per_task_ms"))]


def bench_celery(status: Status) -> list[Figure]:
    """chain100 and fan1000 on Celery with two workers; floor: the local executor, same run."""
    from bench_celery import SKIPPED, WORKER_CONCURRENCY, WORKERS
    from bench_celery import bench_celery as run

    f = run(status=status)
    if f is None:
        print(SKIPPED)
        return []
    setup = f"{WORKERS} workers of {WORKER_CONCURRENCY} tries, Redis, PostgreSQL"
    return [
        Figure("celery.chain100_handoff_median_ms", f["celery.celery_chain100_handoff_median_ms"],
               "ms", 20.0, f["celery.local_chain100_handoff_median_ms"], "ms (local)",
               "celery.local_chain100_handoff_median_ms", "celery.chain100_handoff_overhead_ratio",
               detail=f"{setup}; p95 {f['celery.celery_chain100_handoff_p95_ms']:.3g} ms "
                      f"(local {f['celery.local_chain100_handoff_p95_ms']:.3g} ms); whole run "
                      f"{f['celery.celery_chain100_total_s']:.3g} s (local "
                      f"{f['celery.local_chain100_total_s']:.3g} s); floor: the local "
                      "executor on the same PostgreSQL server, in this run",
               extra=_numbers(f, "celery.celery_chain100_handoff_p95_ms",
                              "celery.local_chain100_handoff_p95_ms",
                              "celery.celery_chain100_total_s", "celery.local_chain100_total_s")),
        Figure("celery.fan1000_tasks_per_s", f["celery.celery_fan1000_tasks_per_s"], "tasks/s",
               200.0, f["celery.local_fan1000_tasks_per_s"], "tasks/s (local)",
               "celery.local_fan1000_tasks_per_s", "celery.fan1000_overhead_ratio",
               higher_is_better=True,
               detail=f"{setup}; tries ran on {f['celery.celery_fan1000_hosts']:g} workers; "
                      "floor: the local executor with the same parallelism, in this run",
               extra=_numbers(f, "celery.celery_fan1000_hosts")),
    ]


WORKLOADS: dict[str, Callable[[Status], list[Figure]]] = {
    "chain100": bench_chain100,
    "fan1000": bench_fan1000,
    "parse200": bench_parse200,
    "test100": bench_test100,
    "import": bench_import,
    "idle": bench_idle,
    "triggerer": bench_triggerer,
    "etl": bench_etl,
    "ui": bench_ui,
    "fan20000": bench_fan20000,
    "dags1000": bench_dags1000,
    "history": bench_history,
    "browsing": bench_browsing,
    "pg_chain100": bench_pg_chain100,
    "celery": bench_celery,
}


# -- running and reporting ------------------------------------------------------------------
def _table(figures: list[Figure]) -> Any:
    from rich.table import Table

    table = Table(title="millstream benchmarks")
    table.add_column("figure", no_wrap=True)
    for column in ("measured", "target", "floor", "overhead"):
        table.add_column(column, justify="right", no_wrap=True)
    for fig in figures:
        ratio = fig.overhead_ratio
        colour = "green" if fig.meets_target else "red"
        table.add_row(
            fig.key,
            f"[{colour}]{fig.value:.4g} {fig.unit}[/{colour}]",
            fig.target_text,
            "-" if fig.floor is None else f"{fig.floor:.4g} {fig.floor_unit or fig.unit}",
            "-" if ratio is None else f"{ratio:.1f}x",
        )
    return table


def _notes(figures: list[Figure]) -> list[str]:
    return [f"[bold]{fig.key}[/bold]: {fig.detail}" for fig in figures if fig.detail]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS), metavar="NAME",
                        help=f"run only these workloads (of: {', '.join(WORKLOADS)})")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    chosen = [name for name in WORKLOADS if not args.only or name in args.only]
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    figures: list[Figure] = []
    failed: dict[str, str] = {}
    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = max(console.width, 120)  # a pipe or a file: room for the table
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("benchmarks", total=len(chosen))

        def status(text: str) -> None:
            progress.update(bar, description=text)

        for name in chosen:
            status(f"running {name}")
            start = time.perf_counter()
            try:
                measured = WORKLOADS[name](status)
            except Exception as exc:
                failed[name] = "".join(traceback.format_exception(exc))
                progress.console.print(f"[red]{name} failed[/red]: {exc}")
            else:
                figures.extend(measured)
                shown = ", ".join(f"{f.key} {f.value:.4g} {f.unit}" for f in measured)
                progress.console.print(
                    f"{name} done in {time.perf_counter() - start:.1f} s: {shown}")
            progress.advance(bar)
    console.print(_table(figures))
    console.print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    for note in _notes(figures):
        console.print(note, highlight=False)
    for name, text in failed.items():
        console.print(f"[red]{name} failed:[/red]\n{text}", soft_wrap=True)
    if args.json:
        data: dict[str, float] = {}
        for fig in figures:
            data.update(fig.json_items())
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
