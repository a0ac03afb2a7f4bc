"""``/dags``: list DAGs, read one, pause or unpause it, read its source and its structure."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, StoreDep, utcnow
from millstream.api.problems import Problem, problem_responses
from millstream.api.routes.common import STANDARD_ERRORS, find_dag, find_structure
from millstream.api.schemas.dags import (
    DagCollection,
    DagOut,
    DagPatch,
    DagSource,
    DagStructureOut,
    TaskGroupOut,
    TaskOut,
)
from millstream.services.pause import set_paused
from millstream.store.interfaces import Store
from millstream.store.records import DagRecord

router = APIRouter(tags=["DAGs"], responses=problem_responses(*STANDARD_ERRORS))

Viewer = Annotated[User, Depends(require_role(Role.VIEWER))]
Op = Annotated[User, Depends(require_role(Role.OP))]
STRUCTURES_PER_QUERY = 500


def dag_out(record: DagRecord, structure_text: str | None, failing_files: set[str]) -> DagOut:
    """A DAG's record with what its latest stored structure says about it."""
    out = DagOut(
        dag_id=record.dag_id, fileloc=record.fileloc, is_paused=record.is_paused,
        is_active=record.is_active, has_import_errors=record.fileloc in failing_files,
        latest_version=record.latest_version, last_parsed=record.last_parsed,
    )
    if structure_text is None:
        return out
    data: dict[str, Any] = json.loads(structure_text)
    owners = sorted({str(t["owner"]) for t in data.get("tasks", []) if t.get("owner")})
    start = data.get("start_date")
    return out.model_copy(update={
        "description": data.get("description"), "schedule": data.get("schedule_display"),
        "tags": list(data.get("tags", [])), "owners": owners,
        "start_date": datetime.fromisoformat(start) if start else None,
        "catchup": data.get("catchup"), "max_active_runs": data.get("max_active_runs"),
        "max_active_tasks": data.get("max_active_tasks"),
    })


@router.get("/dags", response_model=DagCollection, summary="List DAGs")
def list_dags(
    store: StoreDep, page: PageDep, user: Viewer,
    paused: Annotated[bool | None, Query(description="Only paused (true) or unpaused "
                                                     "(false) DAGs.")] = None,
    tags: Annotated[list[str] | None, Query(description="Only DAGs with any of these tags.")
                    ] = None,
    dag_id_pattern: Annotated[str | None, Query(max_length=250,
                                                description="Only DAG ids containing this "
                                                            "(case-insensitive).")] = None,
    only_active: Annotated[bool, Query(description="Leave out DAGs whose file no longer "
                                                   "defines them.")] = True,
) -> DagCollection:
    with store.transaction():
        failing = {error.filename for error in store.import_errors.list()}
        # Tags are in the structures: filtering by them reads every candidate's structure.
        found = store.listing.dags(only_active, paused, dag_id_pattern,
                                   None if tags else page.limit, 0 if tags else page.offset)
        texts = latest_structures(store, [r.dag_id for r in found.items])
    dags = [dag_out(r, texts.get(r.dag_id), failing) for r in found.items]
    if not tags:
        return DagCollection(dags=dags, total_entries=found.total)
    wanted = set(tags)
    dags = [d for d in dags if wanted & set(d.tags)]
    return DagCollection(dags=page.slice(dags), total_entries=len(dags))


def latest_structures(store: Store, dag_ids: list[str]) -> dict[str, str]:
    """The latest structure (JSON) of each DAG that has one, in queries of a bounded size."""
    texts: dict[str, str] = {}
    for start in range(0, len(dag_ids), STRUCTURES_PER_QUERY):
        chosen = dag_ids[start:start + STRUCTURES_PER_QUERY]
        texts.update((dag_id, text) for dag_id, (_, text)
                     in store.browse.latest_structures(chosen).items())
    return texts


@router.get("/dags/{dag_id}", response_model=DagOut, summary="Get a DAG")
def get_dag(dag_id: str, store: StoreDep, user: Viewer) -> DagOut:
    with store.transaction():
        record = find_dag(store, dag_id)
        failing = {error.filename for error in store.import_errors.list()}
        text = store.dags.structure(dag_id)
    return dag_out(record, text, failing)


@router.patch("/dags/{dag_id}", response_model=DagOut, summary="Pause or unpause a DAG",
              responses=problem_responses(409))
def patch_dag(dag_id: str, patch: DagPatch, store: StoreDep, user: Op) -> DagOut:
    set_paused(store, dag_id, patch.is_paused, user.username, utcnow())
    return get_dag(dag_id, store, user)


@router.get("/dags/{dag_id}/source", response_model=DagSource,
            summary="The Python file the DAG was loaded from")
def get_source(dag_id: str, store: StoreDep, user: Viewer) -> DagSource:
    record = find_dag(store, dag_id)
    if record.fileloc is None:
        raise Problem(404, f"DAG {dag_id!r} has no known file")
    try:
        content = Path(record.fileloc).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise Problem(404, f"cannot read the file of DAG {dag_id!r} ({record.fileloc}): "
                           f"{exc.strerror or exc}") from None
    return DagSource(dag_id=dag_id, fileloc=record.fileloc, content=content)


@router.get("/dags/{dag_id}/structure", response_model=DagStructureOut,
            summary="The DAG's tasks and dependencies, from its stored version")
def get_structure(
    dag_id: str, store: StoreDep, user: Viewer,
    version: Annotated[str | None, Query(max_length=64, description="A stored version "
                                                                    "(default: the latest).")
                       ] = None,
) -> DagStructureOut:
    structure = find_structure(store, dag_id, version)
    data = structure.data
    return DagStructureOut(
        dag_id=dag_id, version=structure.version, description=structure.description,
        schedule=structure.schedule_display, tags=structure.tags,
        start_date=structure.start_date, end_date=structure.end_date,
        catchup=structure.catchup, max_active_runs=structure.max_active_runs,
        max_active_tasks=structure.max_active_tasks, doc_md=structure.doc_md,
        params=data.get("params", {}),
        task_groups=[
            TaskGroupOut(group_id=group_id, parent=group.get("parent"),
                         tooltip=group.get("tooltip"), ui_color=group.get("ui_color"))
            for group_id, group in sorted(structure.task_groups.items())
        ],
        tasks=[_task_out(task.raw) for task in structure.tasks],
    )


def _task_out(raw: dict[str, Any]) -> TaskOut:
    return TaskOut(
        task_id=raw["task_id"], operator=raw["operator"], operator_name=raw["operator_name"],
        upstream_task_ids=list(raw["upstream"]), downstream_task_ids=list(raw["downstream"]),
        trigger_rule=raw["trigger_rule"], retries=raw["retries"],
        retry_delay_s=raw["retry_delay"], execution_timeout_s=raw["execution_timeout"],
        pool=raw["pool"], pool_slots=raw["pool_slots"], priority_weight=raw["priority_weight"],
        queue=raw["queue"], owner=raw.get("owner"), depends_on_past=raw["depends_on_past"],
        is_mapped=raw["is_mapped"], task_group=raw.get("task_group"), doc_md=raw.get("doc_md"),
        ui_color=raw.get("ui_color"),
    )
