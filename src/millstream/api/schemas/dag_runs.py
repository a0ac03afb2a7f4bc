"""Shapes of DAG runs: the list, one run, triggering, marking, clearing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from millstream.api.schemas.common import RUN_ID_PATTERN, Body, Collection


class DagRunOut(BaseModel):
    """One run of a DAG."""

    dag_id: str
    dag_run_id: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    run_type: str
    state: str
    conf: dict[str, Any]
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    note: str | None
    dag_version: str | None


class DagRunCollection(Collection):
    dag_runs: list[DagRunOut]


class TriggerDagRun(Body):
    """A manual run to create."""

    dag_run_id: str | None = Field(
        default=None, pattern=RUN_ID_PATTERN,
        description="The run's id (default: manual__<logical date>).")
    logical_date: datetime | None = Field(
        default=None, description="ISO date-time (default: now); without a zone it is UTC.")
    conf: dict[str, Any] = Field(default_factory=dict,
                                 description="The run's conf, checked against the DAG's params.")
    note: str | None = Field(default=None, max_length=10000)


class DagRunStatePatch(Body):
    """Mark a run as succeeded or failed."""

    state: Literal["success", "failed"]


class ClearDagRun(Body):
    """Clear a run's finished tasks so they run again."""

    only_failed: bool = False
    dry_run: bool = Field(default=False, description="Only say what would be cleared.")


class ClearedTaskInstance(BaseModel):
    dag_run_id: str
    task_id: str
    map_index: int
    state: str


class ClearResultOut(BaseModel):
    """What a clear reset (or, with dry_run, would reset)."""

    dry_run: bool
    task_instances: list[ClearedTaskInstance]
    requeued_dag_run_ids: list[str]
