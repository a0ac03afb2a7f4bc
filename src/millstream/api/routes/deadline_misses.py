"""``/deadlineMisses``: task SLAs and DAG deadline alerts that passed unmet, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, StoreDep
from millstream.api.problems import problem_responses
from millstream.api.routes.common import STANDARD_ERRORS
from millstream.api.schemas.common import Collection

router = APIRouter(tags=["DAG Runs"], responses=problem_responses(*STANDARD_ERRORS))

Viewer = Annotated[User, Depends(require_role(Role.VIEWER))]


class DeadlineMissOut(BaseModel):
    """One missed deadline: a task's ``sla`` (``kind`` sla) or a DAG's deadline alert
    (``kind`` deadline, no ``task_id``)."""

    dag_id: str
    dag_run_id: str
    task_id: str | None
    kind: Literal["sla", "deadline"]
    deadline: datetime
    detected_at: datetime


class DeadlineMissCollection(Collection):
    deadline_misses: list[DeadlineMissOut]


@router.get("/deadlineMisses", response_model=DeadlineMissCollection,
            summary="List missed deadlines, newest first")
def list_deadline_misses(
    store: StoreDep, page: PageDep, user: Viewer,
    dag_id: Annotated[str | None, Query(description="Only this DAG's misses.")] = None,
) -> DeadlineMissCollection:
    newest = store.deadline_misses.latest(page.offset + page.limit, dag_id=dag_id)
    return DeadlineMissCollection(
        deadline_misses=[
            DeadlineMissOut(dag_id=m.dag_id, dag_run_id=m.run_id, task_id=m.task_id or None,
                            kind="sla" if m.kind == "sla" else "deadline",
                            deadline=m.deadline, detected_at=m.detected_at)
            for m in newest[page.offset:]],
        total_entries=store.deadline_misses.count(dag_id))
