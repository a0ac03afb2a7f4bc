"""Immutable records of DAG runs, task instances and XComs, shared by every store implementation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from millstream.model.states import DagRunState, TaskState

SCHEDULED_RUN = "scheduled"
"""The run type of runs the scheduler creates from a DAG's schedule (its resume point)."""
DUE_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
"""A DAG's next due moment when it must be looked at on the next round (see DagRepo.due)."""


@dataclass(frozen=True, slots=True)
class DagRunRecord:
    """One run of a DAG for one logical date (immutable: the store's
    ``runs.set_state`` returns the changed record, ``dataclasses.replace`` makes a new one)."""

    dag_id: str
    run_id: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    run_type: str = "manual"
    state: DagRunState = DagRunState.QUEUED
    conf: dict[str, Any] = field(default_factory=dict)
    queued_at: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    note: str | None = None
    dag_version: str | None = None  # the serialized structure this run was created with


@dataclass(frozen=True, slots=True)
class TaskInstanceRecord:
    """One task (one map index of a mapped task) within one DAG run (immutable: the store's
    ``task_instances.set_state`` and ``claim`` return the changed record)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    state: TaskState = TaskState.NONE
    try_number: int = 0
    max_tries: int = 0
    pool: str = "default_pool"
    pool_slots: int = 1
    queue: str = "default"
    priority_weight: int = 1
    start_date: datetime | None = None
    end_date: datetime | None = None
    next_retry_at: datetime | None = None
    hostname: str | None = None
    pid: int | None = None
    error: str | None = None
    heartbeat_at: datetime | None = None  # last moment the try was seen alive
    # A suspended try (store/trigger_records.py): a sensor's next poke, or a deferral.
    reschedule_date: datetime | None = None  # reschedule mode: when the next poke is due
    trigger_id: int | None = None  # deferred: the trigger the triggerer waits on
    trigger_timeout: datetime | None = None  # deferred: when the wait fails
    next_method: str | None = None  # resuming a deferral: the method to call
    next_kwargs: dict[str, Any] | None = None  # ... and its kwargs (event payload included)
    # The current step of the try: every queueing (a try's first run, a sensor's next
    # poke, a deferral's resumption) gets a new id, and that step's outcome names it, so
    # an outcome is never taken for another step's (see new_step_id).
    step_id: str | None = None

    @property
    def resuming(self) -> bool:
        """Whether the next run of this instance continues its current try (a sensor's
        next poke, or a deferral's resumption) instead of starting a new one."""
        return self.reschedule_date is not None or self.next_method is not None

    @property
    def key(self) -> TaskInstanceKey:
        return TaskInstanceKey(self.dag_id, self.run_id, self.task_id, self.map_index)

    @property
    def label(self) -> str:
        """``task_id`` or ``task_id[i]`` for a mapped instance."""
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"

    @property
    def duration(self) -> float | None:
        if self.start_date is None or self.end_date is None:
            return None
        return (self.end_date - self.start_date).total_seconds()


def new_step_id() -> str:
    """A new id for the step of a try being queued (written with the claim that queues it).

    A continuing try keeps its key and try number from step to step, and a deleted run's
    id may be used again: only this id tells one step's outcome from another's.
    """
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class TaskInstanceKey:
    """What identifies a task instance across the store, executors and events."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


@dataclass(frozen=True, slots=True)
class TaskTryRecord:
    """The outcome of one finished try of a task instance, kept as history."""

    key: TaskInstanceKey
    try_number: int
    state: TaskState
    start_date: datetime | None
    end_date: datetime | None
    error: str | None = None


def try_record_of(ti: TaskInstanceRecord) -> TaskTryRecord:
    """The history row of the try ``ti`` has just ended (its state, dates and error)."""
    return TaskTryRecord(ti.key, ti.try_number, ti.state, ti.start_date, ti.end_date, ti.error)


@dataclass(frozen=True, slots=True)
class DagRecord:
    """A DAG known to the store: where it came from, whether it is paused, its latest version."""

    dag_id: str
    fileloc: str | None = None
    is_paused: bool = False
    is_active: bool = True
    latest_version: str | None = None
    last_parsed: datetime | None = None


@dataclass(frozen=True, slots=True)
class ImportErrorRecord:
    """A DAG file that failed to load, with the traceback that says why."""

    filename: str
    traceback: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One user action: who did what to which DAG, run or task."""

    when: datetime
    who: str
    event: str
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
