"""Shapes of DAGs: the list, one DAG, pausing, its source, its structure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from millstream.api.schemas.common import Body, Collection


class DagOut(BaseModel):
    """A DAG as the store knows it, with what its latest parse said about it."""

    dag_id: str
    fileloc: str | None
    is_paused: bool
    is_active: bool
    has_import_errors: bool
    latest_version: str | None
    last_parsed: datetime | None
    description: str | None = None
    schedule: str | None = None
    tags: list[str] = []
    owners: list[str] = []
    start_date: datetime | None = None
    catchup: bool | None = None
    max_active_runs: int | None = None
    max_active_tasks: int | None = None


class DagCollection(Collection):
    dags: list[DagOut]


class DagPatch(Body):
    """What can change on a DAG."""

    is_paused: bool


class DagSource(BaseModel):
    """The Python file a DAG was loaded from."""

    dag_id: str
    fileloc: str
    content: str


class TaskOut(BaseModel):
    """One task of a DAG's structure."""

    task_id: str
    operator: str
    operator_name: str
    upstream_task_ids: list[str]
    downstream_task_ids: list[str]
    trigger_rule: str
    retries: int
    retry_delay_s: float | None
    execution_timeout_s: float | None
    pool: str
    pool_slots: int
    priority_weight: int
    queue: str
    owner: str | None
    depends_on_past: bool
    is_mapped: bool
    task_group: str | None
    doc_md: str | None
    ui_color: str | None


class TaskGroupOut(BaseModel):
    group_id: str
    parent: str | None
    tooltip: str | None
    ui_color: str | None


class DagStructureOut(BaseModel):
    """A DAG's tasks and how they depend on each other, from its stored version."""

    dag_id: str
    version: str
    description: str | None
    schedule: str | None
    tags: list[str]
    start_date: datetime | None
    end_date: datetime | None
    catchup: bool
    max_active_runs: int
    max_active_tasks: int
    doc_md: str | None
    params: dict[str, Any]
    task_groups: list[TaskGroupOut]
    tasks: list[TaskOut]
