"""The chain100 and fan1000 workloads: no-op tasks through the real scheduler and executor.

Usage: python benchmarks/bench_engine.py [--only chain100|fan1000 ...] [--json]

Each workload writes one DAG file into the ``dags`` folder of a fresh temporary
``MILLSTREAM_HOME``, builds the engine the ``millstream scheduler`` command builds
(:func:`millstream.cli.engine.scheduler_job`: SQLite store, DAG folder sync, local
executor with its fork server), parses the folder with one ``job.step``, triggers one
manual run and lets ``job.run`` drive it to the end. Every figure comes from the
timestamps the store recorded, not from the benchmark's own clock.

- chain100: 100 no-op ``PythonOperator`` tasks in a chain (a callable that does
  nothing, run in a worker process like any task). Figures: the median handoff (a
  task's ``start_date`` minus its upstream's ``end_date``) and the run's
  ``end_date - start_date``. Floor: 100 bare fork + exit + waitpid cycles
  (``bench_local.bench_fork_floor``; per fork, in ms, for the handoff).
- fan1000: 1000 independent no-op ``PythonOperator`` tasks with ``PARALLELISM`` slots.
  Figure: 1000 / (last task end - first task start). Floor: 1000 bare forks as forks/s;
  overhead = floor rate / measured rate (how many times slower than bare forks).

The floors are measured right after the workload, in a fresh interpreter: a fork
costs more the more memory the forking process has mapped, and the least a fork can
cost is from a bare one. The same forks from this process (engine imported) are
reported alongside (``loaded_fork_ms``, ``loaded_fork_per_s``).

Nothing outlives a workload: the scheduler job stops its executor, fork server and
parsing workers on exit, and the temporary home is deleted.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workloads_cli import run_workloads

if TYPE_CHECKING:
    from millstream.scheduler.job import SchedulerJob
    from millstream.store.records import DagRunRecord, TaskInstanceRecord

Status = Callable[[str], None]

HERE = Path(__file__).resolve().parent
CHAIN_TASKS = 100
FAN_TASKS = 1000
PARALLELISM = 8
CHAIN_TIMEOUT_S = 120.0
FAN_TIMEOUT_S = 600.0
FLOOR_REPEATS = 3
LOADED_FORK_SAMPLES = 200
# How often the benchmark asks the store whether the run has ended. The question is
# asked between scheduler steps, in the scheduler's own thread, so asking on every
# step would add a query to every handoff; the figures come from the stored
# timestamps and do not depend on when the benchmark notices the end.
POLL_S = 0.05

CHAIN_DAG = """\
from datetime import datetime

from millstream import DAG, chain
from millstream.operators.python import PythonOperator


def nothing():
    return None


with DAG("bench_chain100", start_date=datetime(2026, 1, 1), schedule=None) as dag:
    chain(*[PythonOperator(task_id=f"t{{i:04d}}", python_callable=nothing)
            for i in range({tasks})])
"""

FAN_DAG = """\
from datetime import datetime

from millstream import DAG
from millstream.operators.python import PythonOperator


def nothing():
    return None


with DAG("bench_fan1000", start_date=datetime(2026, 1, 1), schedule=None,
         max_active_tasks={tasks}) as dag:
    for i in range({tasks}):
        PythonOperator(task_id=f"t{{i:04d}}", python_callable=nothing)
"""


def _quiet(message: str) -> None:
    """The default status callback: say nothing."""


@contextlib.contextmanager
def engine_for(dag_id: str, source: str, environ: dict[str, str] | None = None,
               ) -> Iterator[SchedulerJob]:
    """A scheduler job over a fresh temporary home whose dags folder holds ``source``.

    The DAG is parsed and loaded before the job is yielded; on exit the job's executor,
    fork server and parsing workers stop and the home is deleted.
    """
    from millstream.cli.engine import scheduler_job
    from millstream.config import load_settings

    with tempfile.TemporaryDirectory(prefix=f"millstream-{dag_id}-") as tmp:
        home = Path(tmp)
        dags = home / "dags"
        dags.mkdir()
        (dags / f"{dag_id}.py").write_text(textwrap.dedent(source))
        # The DAG runs at once: unpaused when first parsed, whatever the default.
        unpaused = {"MILLSTREAM__CORE__DAGS_ARE_PAUSED_AT_CREATION": "false"}
        settings = load_settings(home=home, environ={**unpaused, **(environ or {})})
        with scheduler_job(settings) as job:
            try:
                job.step(datetime.now(UTC))  # parses the folder and loads the structures
                if dag_id not in job.scheduler.dags:
                    with job.store.transaction():
                        errors = [e.traceback for e in job.store.import_errors.list()]
                    raise RuntimeError(f"{dag_id} was not loaded; import errors: {errors}")
                yield job
            except BaseException:
                # A run that failed or timed out may leave tries running: kill them now
                # rather than leave them behind the stopped executor. The parsing workers
                # hold a copy of the fork server's input pipe, so they go first (as in
                # scheduler_job's own clean-up) or the fork server never sees its end.
                close_parsing = getattr(job.refresh, "close", None)
                if close_parsing is not None:
                    close_parsing()
                job.executor.stop(timeout=5.0, kill=True)
                raise


def run_to_end(job: SchedulerJob, dag_id: str, timeout_s: float) -> DagRunRecord:
    """Trigger a manual run of ``dag_id`` and run the scheduler until the run has ended."""
    from millstream.model.states import FINISHED_RUN_STATES, DagRunState

    now = datetime.now(UTC)
    interval = job.scheduler.dags[dag_id].timetable.data_interval_for(now)
    run = job.scheduler.trigger(dag_id, now, interval, now)
    deadline = time.monotonic() + timeout_s
    next_check = 0.0
    seen: list[DagRunRecord] = []

    def finished() -> bool:
        nonlocal next_check
        moment = time.monotonic()
        if moment < next_check:
            return False
        next_check = moment + POLL_S
        with job.store.transaction():
            current = job.store.runs.get(dag_id, run.run_id)
        if current is not None and current.state in FINISHED_RUN_STATES:
            seen.append(current)
            return True
        return moment > deadline

    job.run(until=finished)
    if not seen:
        raise RuntimeError(f"{dag_id} run did not finish within {timeout_s:g} s")
    ended = seen[-1]
    if ended.state is not DagRunState.SUCCESS:
        raise RuntimeError(f"{dag_id} run ended {ended.state}")
    return ended


def _instances(job: SchedulerJob, run: DagRunRecord) -> list[TaskInstanceRecord]:
    with job.store.transaction():
        instances = job.store.task_instances.for_run(run.dag_id, run.run_id)
    bad = [ti.task_id for ti in instances
           if ti.state != "success" or ti.start_date is None or ti.end_date is None]
    if bad:
        raise RuntimeError(f"{run.dag_id}: {len(bad)} tasks did not succeed, e.g. {bad[:3]}")
    return sorted(instances, key=lambda ti: ti.task_id)


def chain_handoffs(job: SchedulerJob, dag_id: str, timeout_s: float) -> dict[str, float]:
    """Run a chain to its end: its median and 95th percentile handoff (ms), whole run (s)."""
    run = run_to_end(job, dag_id, timeout_s)
    instances = _instances(job, run)
    handoffs = sorted(_span_s(up.end_date, down.start_date) * 1000
                      for up, down in itertools.pairwise(instances))
    return {"median": statistics.median(handoffs),
            "p95": handoffs[max(0, round(len(handoffs) * 0.95) - 1)],
            "total_s": _span_s(run.start_date, run.end_date)}


FLOOR_SCRIPT = """\
import statistics, sys
sys.path.insert(0, sys.argv[1])
from bench_local import bench_fork_floor
print(statistics.median(bench_fork_floor(int(sys.argv[2])) for _ in range(int(sys.argv[3]))))
"""


def fork_floor_s(n: int) -> float:
    """Seconds for ``n`` bare fork + exit + waitpid cycles in a fresh interpreter.

    A fork costs more the more memory the forking process has mapped: this process,
    with the engine loaded, forks several times slower than a bare interpreter. The
    floor is the least a fork can cost, so it is measured in a fresh interpreter
    (median of a few measurements); :func:`loaded_fork_ms` gives the other figure.
    """
    out = subprocess.run(
        [sys.executable, "-c", FLOOR_SCRIPT, str(HERE), str(n), str(FLOOR_REPEATS)],
        check=True, capture_output=True, text=True,
    ).stdout
    return float(out)


def loaded_fork_ms(samples: int = LOADED_FORK_SAMPLES) -> float:
    """Milliseconds per bare fork + exit + waitpid from this process (engine imported)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from bench_local import bench_fork_floor

    runs = (bench_fork_floor(samples) for _ in range(FLOOR_REPEATS))
    return statistics.median(runs) / samples * 1000


FILES_SAMPLES = 200


def try_files_ms(samples: int = FILES_SAMPLES) -> float:
    """CPU milliseconds to create one try's files in a bare loop, on the disk the
    benchmark's home is on: a folder per task instance, the log, and the result written
    to a temporary name and renamed, as a worker does (the rendered fields are left out,
    since a try of a no-op task writes none).

    A file system where creating a file is slow (ext4 without a journal, for one, looks
    past every inode deleted in the last minute before it reuses one) makes every try
    slower, whatever the engine does; this figure says how much.
    """
    with tempfile.TemporaryDirectory(prefix="millstream-files-") as tmp:
        start = time.process_time()
        for i in range(samples):
            folder = os.path.join(tmp, "dag", "run", f"t{i:04d}")
            os.makedirs(folder, mode=0o700)
            for name in ("1.log", ".1.result.json.tmp"):
                fd = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o600)
                os.write(fd, b"{}\n")
                os.close(fd)
            os.replace(os.path.join(folder, ".1.result.json.tmp"),
                       os.path.join(folder, "1.result.json"))
        return (time.process_time() - start) / samples * 1000


def _span_s(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        raise RuntimeError("a run or task has no start or end date")
    return (end - start).total_seconds()


def cpu_s() -> float:
    """CPU seconds (user and system) of this process and of every descendant reaped so far.

    Tries, zygotes and the fork server are all reaped by the time a scheduler job has
    stopped, so the difference across a job is the whole engine's CPU time."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def bench_chain100(tasks: int = CHAIN_TASKS, status: Status = _quiet) -> dict[str, Any]:
    """``tasks`` no-op tasks in a chain: median handoff (ms) and whole run (s), with floors."""
    status("chain100: parsing the DAG")
    cpu_before = cpu_s()
    with engine_for("bench_chain100", CHAIN_DAG.format(tasks=tasks)) as job:
        status(f"chain100: running {tasks} chained tasks")
        run = run_to_end(job, "bench_chain100", CHAIN_TIMEOUT_S)
        instances = _instances(job, run)
    cpu_per_task_ms = (cpu_s() - cpu_before) / tasks * 1000
    handoffs = sorted(
        _span_s(upstream.end_date, downstream.start_date) * 1000
        for upstream, downstream in itertools.pairwise(instances)
    )
    total = _span_s(run.start_date, run.end_date)
    status("chain100: measuring the fork floor")
    floor = fork_floor_s(tasks)
    per_fork_ms = floor / tasks * 1000
    median = statistics.median(handoffs)
    return {
        "chain100.tasks": tasks,
        "chain100.handoff_median_ms": median,
        "chain100.handoff_p95_ms": handoffs[max(0, round(len(handoffs) * 0.95) - 1)],
        "chain100.handoff_floor_ms": per_fork_ms,
        "chain100.handoff_overhead_ratio": median / per_fork_ms,
        "chain100.total_s": total,
        "chain100.floor": floor,
        "chain100.overhead_ratio": total / floor,
        "chain100.loaded_fork_ms": loaded_fork_ms(),
        "chain100.cpu_per_task_ms": cpu_per_task_ms,
        "chain100.try_files_ms": try_files_ms(),
    }


def bench_fan1000(tasks: int = FAN_TASKS, parallelism: int = PARALLELISM,
                  status: Status = _quiet) -> dict[str, Any]:
    """``tasks`` independent no-op tasks: tasks per second, against bare forks per second."""
    environ = {"MILLSTREAM__SCHEDULER__PARALLELISM": str(parallelism)}
    status("fan1000: parsing the DAG")
    cpu_before = cpu_s()
    with engine_for("bench_fan1000", FAN_DAG.format(tasks=tasks), environ) as job:
        status(f"fan1000: running {tasks} independent tasks ({parallelism} slots)")
        run = run_to_end(job, "bench_fan1000", FAN_TIMEOUT_S)
        instances = _instances(job, run)
    cpu_per_task_ms = (cpu_s() - cpu_before) / tasks * 1000
    first_start = min(ti.start_date for ti in instances if ti.start_date is not None)
    last_end = max(ti.end_date for ti in instances if ti.end_date is not None)
    rate = tasks / _span_s(first_start, last_end)
    status("fan1000: measuring the fork floor")
    floor_rate = tasks / fork_floor_s(tasks)
    return {
        "fan1000.tasks": tasks,
        "fan1000.parallelism": parallelism,
        "fan1000.tasks_per_s": rate,
        "fan1000.run_s": _span_s(run.start_date, run.end_date),
        "fan1000.floor": floor_rate,
        "fan1000.overhead_ratio": floor_rate / rate,
        "fan1000.loaded_fork_per_s": 1000 / loaded_fork_ms(),
        "fan1000.cpu_per_task_ms": cpu_per_task_ms,
        "fan1000.try_files_ms": try_files_ms(),
    }


WORKLOADS: dict[str, Callable[[], dict[str, Any]]] = {
    "chain100": bench_chain100,
    "fan1000": bench_fan1000,
}


def main(argv: list[str] | None = None) -> int:
    """Run the workloads and print their figures (as JSON with ``--json``)."""
    return run_workloads(__doc__.splitlines()[0], WORKLOADS, argv)


if __name__ == "__main__":
    sys.exit(main())
