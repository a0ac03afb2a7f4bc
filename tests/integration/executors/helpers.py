"""Helpers for the local executor tests: the DAG file's source, workloads, waits with deadlines."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from millstream.executors.local import LocalExecutor
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.xcom import XComReader
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord, TaskInstanceKey

DAG_ID = "executor_tasks"
# A run id as the scheduler makes them: ':' and '+' must be safe in log paths.
RUN_ID = "manual__2026-01-01T00:00:00+00:00"
LOGICAL = datetime(2026, 1, 1, tzinfo=UTC)

Event = TaskStartedEvent | TaskFinishedEvent

DAG_SOURCE = textwrap.dedent(
    '''
    """Tasks that succeed, fail, crash, hang and spawn children, for the executor tests."""

    import json
    import logging
    import os
    import signal
    import subprocess
    import time
    from datetime import datetime, timedelta
    from pathlib import Path

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    log = logging.getLogger("millstream.task")


    def ok():
        print("printed by the task")
        log.info("logged by the task")
        subprocess.run(["echo", "written by a subprocess"], check=True)
        return {"rows": 3}


    def pull(ti):
        return ti.xcom_pull(task_ids="ok")["rows"] * 10


    def boom():
        raise ValueError("boom on purpose")


    def segfault():
        os.kill(os.getpid(), signal.SIGSEGV)


    def hard_exit():
        os._exit(3)


    def _spawn_child(params):
        child = subprocess.Popen(["sleep", "60"])
        Path(params["pid_file"]).write_text(str(child.pid))


    def slow_with_child(params):
        _spawn_child(params)
        time.sleep(30)


    def ignores_timeout(params):
        # The try's own alarm is ignored: only the fork server can stop this one.
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        _spawn_child(params)
        time.sleep(30)


    def record(params, ti):
        folder = Path(params["folder"])
        start = time.monotonic()
        time.sleep(params.get("seconds", 0.3))
        end = time.monotonic()
        (folder / f"{ti.map_index}.json").write_text(json.dumps([start, end]))
        return ti.map_index


    def sleep_then_return(params):
        time.sleep(params.get("seconds", 1.0))
        return "slept"


    with DAG("executor_tasks", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        PythonOperator(task_id="ok", python_callable=ok)
        PythonOperator(task_id="pull", python_callable=pull)
        PythonOperator(task_id="boom", python_callable=boom, retries=1)
        PythonOperator(task_id="segfault", python_callable=segfault)
        PythonOperator(task_id="hard_exit", python_callable=hard_exit)
        PythonOperator(task_id="slow_with_child", python_callable=slow_with_child,
                       execution_timeout=timedelta(seconds=1))
        PythonOperator(task_id="ignores_timeout", python_callable=ignores_timeout,
                       execution_timeout=timedelta(seconds=1))
        PythonOperator(task_id="record", python_callable=record)
        PythonOperator(task_id="sleep_then_return", python_callable=sleep_then_return)
    '''
)


def memory_reader() -> XComReader:
    return MemoryStore().xcoms


ExecutorFactory = Callable[..., LocalExecutor]


def run_record(run_id: str = RUN_ID) -> DagRunRecord:
    return DagRunRecord(DAG_ID, run_id, LOGICAL, LOGICAL - timedelta(days=1), LOGICAL,
                        conf={"source": "test"})


def workload(dag_file: Path, task_id: str, try_number: int = 1, max_tries: int = 0,
             params: dict[str, Any] | None = None, map_index: int = -1,
             run_id: str = RUN_ID) -> TaskWorkload:
    key = TaskInstanceKey(DAG_ID, run_id, task_id, map_index)
    return TaskWorkload(key, try_number, max_tries, run_record(run_id), params or {},
                        str(dag_file))


def collect(executor: LocalExecutor, finished: int, timeout: float = 20.0) -> list[Event]:
    """Every event until ``finished`` finished events have arrived (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    events: list[Event] = []
    while sum(isinstance(e, TaskFinishedEvent) for e in events) < finished:
        left = deadline - time.monotonic()
        assert left > 0, f"only {events} within {timeout} s"
        executor.wait_for_events(left)
        events.extend(executor.drain_events())
    return events


def finished_events(events: list[Event]) -> dict[str, TaskFinishedEvent]:
    return {e.key.task_id: e for e in events if isinstance(e, TaskFinishedEvent)}


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it is truthy; fails naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def read_pid(path: Path, timeout: float = 10.0) -> int:
    text = wait_until(lambda: path.exists() and path.read_text().strip(), timeout,
                      f"a pid in {path}")
    return int(text)
