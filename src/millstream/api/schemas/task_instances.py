"""Shapes of task instances: the list, one instance, its tries, marking, clearing, logs, XCom."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from millstream.api.schemas.common import Body, Collection


class TaskInstanceOut(BaseModel):
    """One task (one map index of a mapped task) in one run."""

    dag_id: str
    dag_run_id: str
    task_id: str
    map_index: int
    state: str
    try_number: int
    max_tries: int
    pool: str
    pool_slots: int
    queue: str
    priority_weight: int
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    next_retry_at: datetime | None
    hostname: str | None
    pid: int | None
    error: str | None


class TaskInstanceCollection(Collection):
    task_instances: list[TaskInstanceOut]


class TaskTryOut(BaseModel):
    """One finished try of a task instance."""

    try_number: int
    state: str
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    error: str | None


class TaskTryCollection(Collection):
    tries: list[TaskTryOut]


class TaskInstanceStatePatch(Body):
    """Mark a task instance as succeeded or failed."""

    state: Literal["success", "failed"]


class ClearTaskInstances(Body):
    """Clear tasks of one run (and, if asked, their downstream or upstream tasks)."""

    dag_run_id: str = Field(min_length=1)
    task_ids: list[str] = Field(min_length=1, description="The tasks to clear.")
    include_downstream: bool = False
    include_upstream: bool = False
    only_failed: bool = False
    dry_run: bool = Field(default=False, description="Only say what would be cleared.")


class TaskLogOut(BaseModel):
    """A piece of one try's log, from byte ``offset`` to ``next_offset``."""

    dag_id: str
    dag_run_id: str
    task_id: str
    map_index: int
    try_number: int
    content: str
    offset: int
    next_offset: int
    finished: bool = Field(description="Whether the try has ended (no more lines will come).")


class XComEntryOut(BaseModel):
    """One XCom value (JSON) of a task instance."""

    key: str
    value: Any


class XComCollection(Collection):
    xcom_entries: list[XComEntryOut]
