"""``/dags/{dag_id}/dagRuns``: list, trigger, read, mark, clear and delete DAG runs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from millstream.api.auth import Role, User, require_role
from millstream.api.deps import PageDep, StoreDep, utcnow
from millstream.api.problems import problem_responses
from millstream.api.routes.common import (
    STANDARD_ERRORS,
    find_dag,
    find_run,
    find_structure,
)
from millstream.api.schemas.dag_runs import (
    ClearDagRun,
    ClearedTaskInstance,
    ClearResultOut,
    DagRunCollection,
    DagRunOut,
    DagRunStatePatch,
    TriggerDagRun,
)
from millstream.model.states import DagRunState
from millstream.services import clear, mark, runs, trigger
from millstream.store.records import DagRunRecord, TaskInstanceRecord

router = APIRouter(tags=["DAG runs"], responses=problem_responses(*STANDARD_ERRORS))

Viewer = Annotated[User, Depends(require_role(Role.VIEWER))]
Op = Annotated[User, Depends(require_role(Role.OP))]
ALL_DAGS = "~"


def run_out(run: DagRunRecord) -> DagRunOut:
    return DagRunOut(
        dag_id=run.dag_id, dag_run_id=run.run_id, logical_date=run.logical_date,
        data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end,
        run_type=run.run_type, state=run.state.value, conf=run.conf, queued_at=run.queued_at,
        start_date=run.start_date, end_date=run.end_date, note=run.note,
        dag_version=run.dag_version,
    )


def cleared_out(instances: list[TaskInstanceRecord]) -> list[ClearedTaskInstance]:
    return [ClearedTaskInstance(dag_run_id=ti.run_id, task_id=ti.task_id,
                                map_index=ti.map_index, state=ti.state.value)
            for ti in instances]


@router.get("/dags/{dag_id}/dagRuns", response_model=DagRunCollection, summary="List DAG runs")
def list_runs(
    dag_id: str, store: StoreDep, page: PageDep, user: Viewer,
    state: Annotated[list[DagRunState] | None, Query(description="Only runs in these "
                                                                 "states.")] = None,
    order_by: Annotated[Literal["logical_date", "-logical_date"],
                        Query(description="Oldest or (with -) newest first.")
                        ] = "-logical_date",
) -> DagRunCollection:
    """Runs of one DAG, or of every DAG when ``dag_id`` is ``~``."""
    with store.transaction():
        if dag_id != ALL_DAGS:
            find_dag(store, dag_id)
        found = store.listing.runs(None if dag_id == ALL_DAGS else dag_id, state,
                                   order_by.startswith("-"), page.limit, page.offset)
    return DagRunCollection(dag_runs=[run_out(r) for r in found.items],
                            total_entries=found.total)


@router.post("/dags/{dag_id}/dagRuns", response_model=DagRunOut,
             summary="Trigger a DAG run", responses=problem_responses(409))
def trigger_run(dag_id: str, body: TriggerDagRun, store: StoreDep, user: Op) -> DagRunOut:
    """Create a queued manual run; a scheduler starts it (once the DAG is unpaused)."""
    find_structure(store, dag_id)
    run = trigger.trigger_run(store, dag_id, who=user.username, now=utcnow(), conf=body.conf,
                              logical_date=body.logical_date, run_id=body.dag_run_id,
                              note=body.note, conf_field="body.conf",
                              date_field="body.logical_date")
    return run_out(run)


@router.get("/dags/{dag_id}/dagRuns/{dag_run_id}", response_model=DagRunOut,
            summary="Get a DAG run")
def get_run(dag_id: str, dag_run_id: str, store: StoreDep, user: Viewer) -> DagRunOut:
    return run_out(find_run(store, dag_id, dag_run_id))


@router.patch("/dags/{dag_id}/dagRuns/{dag_run_id}", response_model=DagRunOut,
              summary="Mark a DAG run as succeeded or failed", responses=problem_responses(409))
def mark_run(dag_id: str, dag_run_id: str, body: DagRunStatePatch, store: StoreDep,
             user: Op) -> DagRunOut:
    """Unfinished tasks end with the run: succeeded, or failed if started and skipped if not."""
    find_run(store, dag_id, dag_run_id)
    run = mark.mark_run(store, dag_id, dag_run_id, body.state, user.username, utcnow())
    return run_out(run)


@router.post("/dags/{dag_id}/dagRuns/{dag_run_id}/clear", response_model=ClearResultOut,
             summary="Clear a DAG run's tasks so they run again",
             responses=problem_responses(409))
def clear_run(dag_id: str, dag_run_id: str, body: ClearDagRun, store: StoreDep,
              user: Op) -> ClearResultOut:
    run = find_run(store, dag_id, dag_run_id)
    structure = find_structure(store, dag_id, run.dag_version)
    task_ids = set(structure.task_dict)
    if body.dry_run:
        found = clear.clearable(store, dag_id, [dag_run_id], task_ids, body.only_failed)
        return ClearResultOut(dry_run=True, task_instances=cleared_out(found),
                              requeued_dag_run_ids=[])
    result = clear.clear(store, structure, dag_id, [dag_run_id], task_ids, user.username,
                         utcnow(), body.only_failed)
    return ClearResultOut(dry_run=False, task_instances=cleared_out(result.cleared),
                          requeued_dag_run_ids=[r.run_id for r in result.requeued])


@router.delete("/dags/{dag_id}/dagRuns/{dag_run_id}", status_code=204, response_class=Response,
               summary="Delete a DAG run", responses=problem_responses(409))
def delete_run(dag_id: str, dag_run_id: str, store: StoreDep, user: Op) -> Response:
    """Remove the run with its task instances, their tries and XComs (not its log files)."""
    find_run(store, dag_id, dag_run_id)
    runs.delete_run(store, dag_id, dag_run_id, user.username, utcnow())
    return Response(status_code=204)
