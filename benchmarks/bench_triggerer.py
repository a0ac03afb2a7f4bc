"""The triggerer workload: resident memory of ``millstream triggerer`` running 1000 time triggers.

Usage: python benchmarks/bench_triggerer.py [--json]

Creates a temporary home on SQLite holding one run with ``TRIGGERS`` deferred task
instances, each waiting on its own ``DateTimeTrigger`` due ``FIRE_AFTER_S`` seconds later,
starts ``python -m millstream.cli.main triggerer``, waits until the store shows every
trigger owned by it, and reads its ``VmRSS`` from ``/proc/<pid>/status`` a few times while
all of them wait at once (``triggerer.rss_mb``, the largest sample). It then waits for the
moment to come and measures how long after it the last task instance was resumed
(``triggerer.fire_lag_s``: every trigger fired and every resumption written).

Floor: the VmRSS of a bare interpreter running ``TRIGGERS`` ``asyncio.sleep`` tasks on one
event loop, the least that could wait for the same moments.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

TRIGGERS = 1000
FIRE_AFTER_S = 20.0
TARGET_MB = 100.0
START_TIMEOUT_S = 15.0
FIRE_TIMEOUT_S = 60.0
SAMPLES = 5
SAMPLE_GAP_S = 0.2
FLOOR_CODE = f"""
import asyncio
async def main():
    await asyncio.gather(*(asyncio.sleep(5) for _ in range({TRIGGERS})))
asyncio.run(main())
"""
FLOOR_SETTLE_S = 1.0

Status = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default status callback: say nothing."""


def rss_mb(pid: int) -> float | None:
    """VmRSS of ``pid`` in MB (MiB), or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def floor_rss_mb() -> float:
    """VmRSS of a bare interpreter with ``TRIGGERS`` sleeping asyncio tasks, in MB."""
    process = subprocess.Popen([sys.executable, "-c", FLOOR_CODE])
    try:
        time.sleep(FLOOR_SETTLE_S)
        value = rss_mb(process.pid)
        if value is None:
            raise RuntimeError("the bare asyncio loop ended before its memory was read")
        return value
    finally:
        process.kill()
        process.wait()


def _deferred_run(url: str, moment: datetime) -> None:
    """One run whose ``TRIGGERS`` task instances are deferred, each on its own trigger."""
    from millstream.model.states import TaskState
    from millstream.store.records import DagRunRecord, TaskInstanceRecord
    from millstream.store.sql.migrate import migrate
    from millstream.store.sql.store import SqlStore
    from millstream.triggerer.base import serialize_trigger
    from millstream.triggerer.triggers.time import DateTimeTrigger

    migrate(url)
    store = SqlStore.from_url(url)
    now = datetime.now(UTC)
    classpath, kwargs = serialize_trigger(DateTimeTrigger(moment))
    try:
        with store.transaction():
            store.runs.add(DagRunRecord("bench_triggerer", "manual__1", now, now, now))
            instances = [
                TaskInstanceRecord("bench_triggerer", "manual__1", f"wait{i:04d}",
                                   state=TaskState.RUNNING, try_number=1)
                for i in range(TRIGGERS)
            ]
            store.task_instances.add_many(instances)
            for ti in instances:
                trigger_id = store.triggers.add(classpath, kwargs, now)
                store.task_instances.set_state(ti, TaskState.DEFERRED, trigger_id=trigger_id,
                                               next_method="execute_complete", next_kwargs={})
    finally:
        store.close()
        store.engine.dispose()


def _wait(predicate: Callable[[], bool], timeout: float, what: str,
          process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            raise RuntimeError(f"the triggerer exited ({process.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def _triggerer(home: Path, url: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILLSTREAM")}
    env.update(MILLSTREAM_HOME=str(home), MILLSTREAM__DATABASE__URL=url)
    log = (home / "triggerer.out").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "millstream.cli.main", "triggerer"], env=env, stdout=log,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def bench_triggerer(status: Status = _quiet) -> dict[str, Any]:
    """Measure the triggerer with ``TRIGGERS`` time triggers; returns the figures."""
    from millstream.model.states import TaskState
    from millstream.store.sql.store import SqlStore

    status("triggerer: floor (a bare asyncio loop of sleeping tasks)")
    floor = floor_rss_mb()
    with tempfile.TemporaryDirectory(prefix="millstream-bench-triggerer-") as folder:
        home = Path(folder)
        url = f"sqlite:///{home / 'millstream.db'}"
        moment = datetime.now(UTC) + timedelta(seconds=FIRE_AFTER_S)
        status(f"triggerer: storing {TRIGGERS} deferred tasks")
        _deferred_run(url, moment)
        observer = SqlStore.from_url(url)
        try:
            with _triggerer(home, url) as process:
                owner = f"{socket.gethostname()}:{process.pid}"

                def owns_all() -> bool:
                    with observer.transaction():
                        triggers = observer.triggers.list()
                    return sum(t.triggerer_id == owner for t in triggers) == TRIGGERS

                status(f"triggerer: waiting until it runs all {TRIGGERS} triggers")
                _wait(owns_all, START_TIMEOUT_S, f"it to take all {TRIGGERS} triggers", process)
                time.sleep(1.0)  # every trigger is now awaiting its moment
                samples = []
                for _ in range(SAMPLES):
                    value = rss_mb(process.pid)
                    if value is not None:
                        samples.append(value)
                    time.sleep(SAMPLE_GAP_S)
                if datetime.now(UTC) >= moment:
                    raise RuntimeError("the triggers fired before memory was measured")
                status("triggerer: waiting for every trigger to fire")

                def all_resumed() -> bool:
                    with observer.transaction():
                        return not observer.task_instances.in_states([TaskState.DEFERRED])

                _wait(all_resumed, FIRE_TIMEOUT_S + FIRE_AFTER_S, "every trigger to fire",
                      process)
                lag = (datetime.now(UTC) - moment).total_seconds()
                with observer.transaction():
                    resumed = len(observer.task_instances.in_states([TaskState.SCHEDULED]))
        finally:
            observer.close()
            observer.engine.dispose()
    if resumed != TRIGGERS:
        raise RuntimeError(f"only {resumed} of {TRIGGERS} task instances were resumed")
    return {
        "triggerer.rss_mb": max(samples),
        "triggerer.floor": floor,
        "triggerer.triggers": TRIGGERS,
        "triggerer.fire_lag_s": lag,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = bench_triggerer(status=lambda text: print(text, file=sys.stderr))
    if args.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
        return
    print(f"triggerer: {figures['triggerer.triggers']} time triggers, "
          f"rss {figures['triggerer.rss_mb']:.1f} MB (target <= {TARGET_MB:g} MB), "
          f"floor {figures['triggerer.floor']:.1f} MB, "
          f"overhead {figures['triggerer.rss_mb'] / figures['triggerer.floor']:.2f}x; "
          f"all resumed {figures['triggerer.fire_lag_s']:.2f} s after their moment")


if __name__ == "__main__":
    main()
