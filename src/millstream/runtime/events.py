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
    # Continuing a suspended try: a deferral's resume method and kwargs (JSON, as the
    # triggerer's serde wrote them), or a rescheduled sensor's first poke and poke count.
    next_method: str | None = None
    next_kwargs: dict[str, Any] | None = None
    first_start_date: datetime | None = None
    reschedule_count: int = 0
    # The step of the try this workload runs (TaskInstanceRecord.step_id): its outcome
    # names it, so the scheduler never takes it for another step's.
    step_id: str | None = None


@dataclass(frozen=True, slots=True)
class TaskStartedEvent:
    """A task try has started running."""

    key: TaskInstanceKey
    try_number: int
    start_date: datetime
    hostname: str | None = None
    pid: int | None = None


@dataclass(frozen=True, slots=True)
class TaskDeferral:
    """What a deferring task asks for: a trigger to run, and how to resume after it fires.

    ``trigger_kwargs`` and ``next_kwargs`` are JSON as the triggerer's serde wrote them;
    ``timeout`` is the moment the wait fails.
    """

    classpath: str
    trigger_kwargs: dict[str, Any]
    next_method: str
    next_kwargs: dict[str, Any] = field(default_factory=dict)
    timeout: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskFinishedEvent:
    """A task try has ended; ``state`` is success, failed, skipped or up_for_retry.

    Or it is suspended: ``up_for_reschedule`` (a sensor's next poke is due at
    ``reschedule_date``) or ``deferred`` (the triggerer runs ``deferral``'s trigger).

    ``xcoms`` holds the values the task pushed, as (key, JSON text) pairs, and
    ``skip_task_ids`` the downstream tasks it asked to skip (branching).

    ``step_id`` names the step of the try that ended (the workload's): a continuing try
    (a sensor's next poke, a deferral's resumption) has the same key and try number from
    step to step. None: a worker that names no step (an earlier version).
    """

    key: TaskInstanceKey
    try_number: int
    state: TaskState
    start_date: datetime
    end_date: datetime
    error: str | None = None
    xcoms: tuple[tuple[str, str], ...] = ()
    skip_task_ids: tuple[str, ...] = ()
    reschedule_date: datetime | None = None
    deferral: TaskDeferral | None = None
    step_id: str | None = None
    # What task code reported through millstream.metrics, as JSON texts (observability).
    metrics: tuple[str, ...] = ()
    # up_for_retry: the delay the task's retry policy chose, in seconds (None: its own).
    retry_delay_s: float | None = None
