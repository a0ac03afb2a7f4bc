"""What runs a task reports back to the scheduler: serializable workloads and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from millstream.model.states import TaskState
from millstream.store.records import DagRunRecord, TaskInstanceKey


@dataclass(frozen=True, slots=True)
class TaskWorkload:
    """Everything needed to run one try of one task instance, away from the scheduler."""

    key: TaskInstanceKey
    try_number: int
    max_tries: int
    run: DagRunRecord
    params: dict[str, Any] = field(default_factory=dict)
    dag_file: str | None = None  # where a worker process finds the DAG to import


@dataclass(frozen=True, slots=True)
class TaskStartedEvent:
    """A task try has started running."""

    key: TaskInstanceKey
    try_number: int
    start_date: datetime
    hostname: str | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class TaskFinishedEvent:
    """A task try has ended; ``state`` is success, failed, skipped or up_for_retry.

    ``xcoms`` holds the values the task pushed, as (key, JSON text) pairs, and
    ``skip_task_ids`` the downstream tasks it asked to skip (branching).
    """

    key: TaskInstanceKey
    try_number: int
    state: TaskState
    start_date: datetime
    end_date: datetime
    error: str | None = None
    xcoms: tuple[tuple[str, str], ...] = ()
    skip_task_ids: tuple[str, ...] = ()
