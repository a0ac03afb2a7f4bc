"""Local executor benchmarks: the fork floor, and one try's end to the next try's start.

Usage: python benchmarks/bench_local.py [--tries N] [--forks N]

``bench_fork_floor(n)`` is the least a process-per-try executor can cost on this
machine: ``n`` bare ``os.fork()`` + ``os._exit(0)`` + ``waitpid``. ``bench_handoff(n)``
runs ``n`` no-op tries through a :class:`LocalExecutor` one after another, each
submitted as soon as the previous one's finished event arrives, and reports the time
from a finished event to the next started event (by the events' own timestamps), with
the executor-side round trip measured alongside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NOOP_DAG = textwrap.dedent(
    """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.python import PythonOperator


    def nothing():
        return None


    with DAG("bench_local_noop", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        PythonOperator(task_id="noop", python_callable=nothing)
    """
)


def bench_fork_floor(n: int) -> float:
    """Seconds for ``n`` bare fork + exit + waitpid cycles, measured now in this process."""
    start = time.perf_counter()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    return time.perf_counter() - start


def bench_handoff(n: int = 100) -> dict[str, Any]:
    """Run ``n`` sequential no-op tries; median and p95 handoff in milliseconds."""
    from millstream.executors.local import LocalExecutor
    from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
    from millstream.store.memory import MemoryXComRepo
    from millstream.store.records import DagRunRecord, TaskInstanceKey

    with tempfile.TemporaryDirectory(prefix="millstream-bench-") as folder:
        dag_file = Path(folder) / "bench_local_noop.py"
        dag_file.write_text(NOOP_DAG)
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        run = DagRunRecord("bench_local_noop", "bench", moment, moment, moment)
        reader = MemoryXComRepo()
        executor = LocalExecutor(1, Path(folder) / "logs", lambda: reader)
        executor.start()
        handoffs: list[float] = []
        round_trips: list[float] = []
        previous_end: datetime | None = None
        total_start = time.perf_counter()
        try:
            for i in range(n):
                key = TaskInstanceKey("bench_local_noop", run.run_id, "noop", i)
                submitted = time.perf_counter()
                executor.submit(TaskWorkload(key, 1, 0, run, {}, str(dag_file)))
                finished: TaskFinishedEvent | None = None
                while finished is None:
                    if not executor.wait_for_events(30.0):
                        raise RuntimeError(f"try {i} reported nothing within 30 s")
                    for event in executor.drain_events():
                        if isinstance(event, TaskStartedEvent) and previous_end is not None:
                            handoffs.append((event.start_date - previous_end).total_seconds())
                        elif isinstance(event, TaskFinishedEvent):
                            finished = event
                if finished.state.value != "success":
                    raise RuntimeError(f"try {i} ended {finished.state}: {finished.error}")
                round_trips.append(time.perf_counter() - submitted)
                previous_end = finished.end_date
            total = time.perf_counter() - total_start
        finally:
            executor.stop(timeout=10.0, kill=True)
    floor_s = bench_fork_floor(n) / n
    ms = sorted(h * 1000 for h in handoffs)
    return {
        "tries": n,
        "handoff_median_ms": statistics.median(ms),
        "handoff_p95_ms": ms[int(len(ms) * 0.95) - 1] if ms else None,
        "round_trip_median_ms": statistics.median(round_trips) * 1000,
        "total_s": total,
        "fork_floor_ms": floor_s * 1000,
        "overhead": statistics.median(ms) / (floor_s * 1000) if ms and floor_s else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=100)
    parser.add_argument("--forks", type=int, default=200)
    args = parser.parse_args(argv)
    floor = bench_fork_floor(args.forks)
    print(f"fork floor: {floor / args.forks * 1000:.3f} ms per fork+exit+wait "
          f"({args.forks} forks)")
    for name, value in bench_handoff(args.tries).items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"{name}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
