"""``/dags/{dag_id}/dagRuns/{run}/taskInstances``: list, read, mark and clear task instances,
and read their tries and XComs."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, StoreDep, utcnow
from millstream.api.problems import FieldProblem, Problem, problem_responses
from millstream.api.routes.common import (
    STANDARD_ERRORS,
    find_run,
    find_structure,
    find_task_instance,
)
from millstream.api.routes.dag_runs import cleared_out
from millstream.api.schemas.dag_runs import ClearResultOut
from millstream.api.schemas.task_instances import (
    ClearTaskInstances,
    TaskInstanceCollection,
    TaskInstanceOut,
    TaskInstanceStatePatch,
    TaskTryCollection,
    TaskTryOut,
    XComCollection,
    XComEntryOut,
)
from millstream.model.limits import MAX_INT
from millstream.model.states import TaskState
from millstream.runtime.xcom import shown_xcom
from millstream.secrets.service import stored_secrets_masker
from millstream.services import clear
from millstream.services.mark import mark_task
from millstream.store.records import TaskInstanceRecord

router = APIRouter(tags=["Task instances"], responses=problem_responses(*STANDARD_ERRORS))

Viewer = Annotated[User, Depends(require_role(Role.VIEWER))]
Op = Annotated[User, Depends(require_role(Role.OP))]
MapIndex = Annotated[int, Query(ge=-1, le=MAX_INT,
                                description="The map index (-1: not mapped).")]
TI_PATH = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}"


def ti_out(ti: TaskInstanceRecord) -> TaskInstanceOut:
    return TaskInstanceOut(
        dag_id=ti.dag_id, dag_run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index,
        state=ti.state.value, try_number=ti.try_number, max_tries=ti.max_tries, pool=ti.pool,
        pool_slots=ti.pool_slots, queue=ti.queue, priority_weight=ti.priority_weight,
        start_date=ti.start_date, end_date=ti.end_date, duration=ti.duration,
        next_retry_at=ti.next_retry_at, hostname=ti.hostname, pid=ti.pid, error=ti.error,
    )


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances",
            response_model=TaskInstanceCollection, summary="List a run's task instances")
def list_task_instances(
    dag_id: str, dag_run_id: str, store: StoreDep, page: PageDep, user: Viewer,
    state: Annotated[list[TaskState] | None, Query(description="Only instances in these "
                                                               "states.")] = None,
) -> TaskInstanceCollection:
    with store.transaction():
        find_run(store, dag_id, dag_run_id)
        found = store.listing.task_instances(dag_id, dag_run_id, state or None, page.limit,
                                             page.offset)
    return TaskInstanceCollection(task_instances=[ti_out(ti) for ti in found.items],
                                  total_entries=found.total)


@router.get(TI_PATH, response_model=TaskInstanceOut, summary="Get a task instance")
def get_task_instance(dag_id: str, dag_run_id: str, task_id: str, store: StoreDep,
                      user: Viewer, map_index: MapIndex = -1) -> TaskInstanceOut:
    return ti_out(find_task_instance(store, dag_id, dag_run_id, task_id, map_index))


@router.patch(TI_PATH, response_model=TaskInstanceOut,
              summary="Mark a task instance as succeeded or failed",
              responses=problem_responses(409))
def mark_task_instance(dag_id: str, dag_run_id: str, task_id: str,
                       body: TaskInstanceStatePatch, store: StoreDep, user: Op,
                       map_index: MapIndex = -1) -> TaskInstanceOut:
    ti = find_task_instance(store, dag_id, dag_run_id, task_id, map_index)
    marked = mark_task(store, ti.key, body.state, user.username, utcnow())
    return ti_out(marked)


@router.get(f"{TI_PATH}/tries", response_model=TaskTryCollection,
            summary="The finished tries of a task instance")
def list_tries(dag_id: str, dag_run_id: str, task_id: str, store: StoreDep, page: PageDep,
               user: Viewer, map_index: MapIndex = -1) -> TaskTryCollection:
    ti = find_task_instance(store, dag_id, dag_run_id, task_id, map_index)
    tries = sorted(store.task_instances.tries(ti.key), key=lambda t: t.try_number)
    shown = [
        TaskTryOut(try_number=t.try_number, state=t.state.value, start_date=t.start_date,
                   end_date=t.end_date, error=t.error,
                   duration=(t.end_date - t.start_date).total_seconds()
                   if t.start_date and t.end_date else None)
        for t in page.slice(tries)
    ]
    return TaskTryCollection(tries=shown, total_entries=len(tries))


@router.post("/dags/{dag_id}/clearTaskInstances", response_model=ClearResultOut,
             summary="Clear tasks of a run (with their downstream tasks, if asked)",
             responses=problem_responses(409))
def clear_task_instances(dag_id: str, body: ClearTaskInstances, store: StoreDep,
                         user: Op) -> ClearResultOut:
    run = find_run(store, dag_id, body.dag_run_id)
    structure = find_structure(store, dag_id, run.dag_version)
    unknown = sorted(set(body.task_ids) - set(structure.task_dict))
    if unknown:
        message = f"DAG {dag_id!r} has no task {unknown[0]!r}"
        raise Problem(422, f"body.task_ids: {message}",
                      errors=[FieldProblem(loc="body.task_ids", msg=message)])
    chosen = set(body.task_ids)
    if body.include_downstream or body.include_upstream:
        for task_id in body.task_ids:
            chosen |= clear.select_tasks(structure, f"^{re.escape(task_id)}$",
                                         body.include_downstream, body.include_upstream)
    if body.dry_run:
        found = clear.clearable(store, dag_id, [run.run_id], chosen, body.only_failed)
        return ClearResultOut(dry_run=True, task_instances=cleared_out(found),
                              requeued_dag_run_ids=[])
    result = clear.clear(store, structure, dag_id, [run.run_id], chosen, user.username,
                           utcnow(), body.only_failed)
    return ClearResultOut(dry_run=False, task_instances=cleared_out(result.cleared),
                          requeued_dag_run_ids=[r.run_id for r in result.requeued])


@router.get(f"{TI_PATH}/xcomEntries", response_model=XComCollection,
            summary="The XCom values of a task instance", tags=["XCom"])
def list_xcoms(dag_id: str, dag_run_id: str, task_id: str, store: StoreDep, page: PageDep,
               user: Viewer, map_index: MapIndex = -1) -> XComCollection:
    with store.transaction():
        ti = find_task_instance(store, dag_id, dag_run_id, task_id, map_index)
        found = store.listing.xcom_entries(ti.key, page.limit, page.offset)
    masker = stored_secrets_masker(store)
    return XComCollection(
        xcom_entries=[XComEntryOut(key=k, value=masker.redact(_json(v), k))
                      for k, v in found.items],
        total_entries=found.total)


@router.get(f"{TI_PATH}/xcomEntries/{{xcom_key}}", response_model=XComEntryOut,
            summary="One XCom value of a task instance", tags=["XCom"])
def get_xcom(dag_id: str, dag_run_id: str, task_id: str, xcom_key: str, store: StoreDep,
             user: Viewer, map_index: MapIndex = -1) -> XComEntryOut:
    ti = find_task_instance(store, dag_id, dag_run_id, task_id, map_index)
    text = store.xcoms.get_xcom(dag_id, dag_run_id, task_id, ti.map_index, xcom_key)
    if text is None:
        raise Problem(404, f"task instance {ti.label!r} of run {dag_run_id!r} has no XCom "
                           f"{xcom_key!r}")
    masker = stored_secrets_masker(store)
    return XComEntryOut(key=xcom_key, value=masker.redact(_json(text), xcom_key))


def _json(text: str) -> Any:
    try:
        return shown_xcom(json.loads(text))
    except ValueError:
        return text
