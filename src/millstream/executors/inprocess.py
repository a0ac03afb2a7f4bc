"""The in-process executor: runs each workload synchronously in this process (dag.test)."""

from __future__ import annotations

import os
import socket
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.task_runner import run_task_try

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.authoring.task import BaseOperator
    from millstream.runtime.xcom import XComReader
    from millstream.store.records import TaskInstanceKey


class InProcessExecutor:
    """Runs one workload at a time, in order, when the scheduler calls :meth:`sync`.

    Its tries run the operators of the live DAGs it was given (by dag_id), where another
    executor's process would import the DAG's file.
    """

    def __init__(self, reader: XComReader, clock: Callable[[], datetime],
                 dags: Mapping[str, DAG]) -> None:
        self._reader = reader
        self._clock = clock
        self.dags = dict(dags)
        self._pending: deque[tuple[TaskWorkload, BaseOperator]] = deque()
        self._events: list[TaskStartedEvent | TaskFinishedEvent] = []
        self._hostname = socket.gethostname()

    def open_slots(self) -> int:
        return 1_000_000

    def submit(self, workload: TaskWorkload) -> None:
        self._pending.append((workload, self.task_of(workload)))

    def task_of(self, workload: TaskWorkload) -> BaseOperator:
        """The live operator a workload's try runs."""
        key = workload.key
        dag = self.dags.get(key.dag_id)
        if dag is None:
            raise KeyError(f"the in-process executor was given no DAG {key.dag_id!r}")
        return dag.task_dict[key.task_id]

    def sync(self) -> None:
        while self._pending:
            workload, task = self._pending.popleft()
            self._events.append(
                TaskStartedEvent(workload.key, workload.try_number, self._clock(),
                                 self._hostname, os.getpid())
            )
            self._events.append(run_task_try(task, workload, self._reader, self._clock))

    def drain_events(self) -> list[TaskStartedEvent | TaskFinishedEvent]:
        events, self._events = self._events, []
        return events

    def has_work(self) -> bool:
        return bool(self._pending or self._events)

    def wait_for_events(self, timeout: float) -> bool:
        return bool(self._events)  # work runs inside sync(): there is nothing to wait for

    def in_flight(self) -> set[TaskInstanceKey]:
        return {workload.key for workload, _ in self._pending}

    def running_pids(self) -> dict[TaskInstanceKey, int]:
        return {}

    def terminate(self, key: TaskInstanceKey) -> None:
        self._pending = deque((w, t) for w, t in self._pending if w.key != key)
