"""JSON for the pages' live updates: grid and graph states every few seconds, log tails."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, JSONResponse, Response

from millstream.api.deps import SettingsDep, StoreDep
from millstream.api.remote_logs import RemoteLogs
from millstream.model.states import FINISHED_RUN_STATES, FINISHED_TASK_STATES
from millstream.services.runs import BUSY_TASK_STATES
from millstream.store.records import TaskInstanceKey
from millstream.ui.dagpage import int_param, load_structure, require_run
from millstream.ui.errors import PageError
from millstream.ui.graph import graph_tasks, group_members
from millstream.ui.grid import build_grid, grid_states
from millstream.ui.logs import PIECE_BYTES, log_path, read_log
from millstream.ui.routes.dag_views import node_states
from millstream.ui.routes.task_views import run_instances, run_live_facts, tries_of
from millstream.ui.session import PageUser
from millstream.ui.states import state_name
from millstream.ui.templating import environment

router = APIRouter(prefix="/ui/api")

NO_CACHE = {"Cache-Control": "no-store"}


def _json(data: Any) -> JSONResponse:
    return JSONResponse(data, headers=NO_CACHE)


@router.get("/dags/{dag_id}/grid", include_in_schema=False)
def grid_json(dag_id: str, store: StoreDep, _: PageUser,
              runs: str | None = None) -> JSONResponse:
    """The states of the newest runs' grid (the same runs the page shows)."""
    count = int_param(runs, 25, 1, 365)
    with store.transaction():
        record = store.dags.get(dag_id)
        if record is None:
            raise PageError(404, f"no DAG {dag_id!r}")
        shown = store.browse.latest_runs(dag_id, count)
        instances = store.overview.grid_instances(dag_id, [r.run_id for r in shown])
        structure = load_structure(store, dag_id, record.latest_version)
    grid = build_grid(structure, shown, instances)
    data = grid_states(grid)
    data["active"] = any(c.run.state not in FINISHED_RUN_STATES for c in grid.columns)
    return _json(data)


@router.get("/dags/{dag_id}/states", include_in_schema=False)
def run_states(dag_id: str, store: StoreDep, _: PageUser,
               run_id: str | None = None) -> JSONResponse:
    """One run's state, each task instance's, and each graph node's (groups summarised)."""
    with store.transaction():
        run = require_run(store, dag_id, run_id)
        instances = store.task_instances.for_run(dag_id, run.run_id)
        structure = load_structure(store, dag_id, run.dag_version)
    tasks, groups = graph_tasks(structure)
    members: dict[str, tuple[str, ...]] = {t.task_id: (t.task_id,) for t in tasks}
    members.update(group_members(tasks, groups))
    return _json({
        "run_id": run.run_id,
        "state": state_name(run.state),
        "active": run.state not in FINISHED_RUN_STATES,
        "nodes": node_states(members, instances),
        "instances": [{"task_id": ti.task_id, "map_index": ti.map_index,
                       "state": state_name(ti.state), "try_number": ti.try_number}
                      for ti in instances],
    })


@router.get("/dags/{dag_id}/run", include_in_schema=False)
def run_live(dag_id: str, store: StoreDep, _: PageUser,
             run_id: str | None = None) -> JSONResponse:
    """What the run page shows while the run is live: its state and dates, and its task
    instances' rows rendered by the same template as the page, so a poll shows what a
    reload would."""
    with store.transaction():
        run = require_run(store, dag_id, run_id)
        instances = run_instances(store, dag_id, run)
    rows = environment().get_template("_run_rows.html").render(
        dag_id=dag_id, run=run, instances=instances)
    return _json({
        "run_id": run.run_id,
        "state": state_name(run.state),
        "active": run.state not in FINISHED_RUN_STATES,
        "fields": run_live_facts(run),
        "count": len(instances),
        "rows_html": rows,
    })


@router.get("/dags/{dag_id}/task", include_in_schema=False)
def task_json(dag_id: str, store: StoreDep, _: PageUser, run_id: str | None = None,
              task_id: str = "", map_index: str | None = None) -> JSONResponse:
    """One task instance's state and tries, for its page to wait on its next try."""
    index = int_param(map_index, -1, -1)
    with store.transaction():
        run = require_run(store, dag_id, run_id)
        ti = store.task_instances.get(TaskInstanceKey(dag_id, run.run_id, task_id, index))
        if ti is None:
            raise PageError(404, f"run {run.run_id!r} has no task instance {task_id!r}")
        tries = tries_of(store, ti)
    return _json({
        "state": state_name(ti.state), "try_number": ti.try_number,
        "busy": ti.state in BUSY_TASK_STATES, "finished": ti.state in FINISHED_TASK_STATES,
        "tries": [{"try_number": t.try_number, "state": t.state} for t in tries],
    })


@router.get("/dags/{dag_id}/log", include_in_schema=False)
def log_json(
    dag_id: str,
    store: StoreDep,
    settings: SettingsDep,
    _: PageUser,
    run_id: str | None = None,
    task_id: str = "",
    map_index: str | None = None,
    try_number: Annotated[str | None, Query(alias="try")] = None,
    offset: str | None = None,
    download: str | None = None,
) -> Response:
    """New log text from ``offset`` (JSON), or the whole file with ``download=1``."""
    index = int_param(map_index, -1, -1)
    with store.transaction():
        run = require_run(store, dag_id, run_id)
        ti = store.task_instances.get(TaskInstanceKey(dag_id, run.run_id, task_id, index))
    if ti is None:
        raise PageError(404, f"run {run.run_id!r} has no task instance {task_id!r}")
    number = int_param(try_number, ti.try_number, 1, max(ti.try_number, 1))
    folder = settings.logging.base_log_folder
    if download:
        path = log_path(folder, ti, number)
        if not path.is_file():
            raise PageError(404, f"try {number} of {ti.label!r} left no log on this server")
        return FileResponse(path, media_type="text/plain; charset=utf-8",
                            filename=f"{dag_id}.{ti.label}.{number}.log")
    piece = read_log(folder, ti, number, offset=int_param(offset, 0, 0), limit=PIECE_BYTES,
                     remote=RemoteLogs.from_settings(settings))
    return _json({
        "text": piece.text, "offset": piece.offset, "size": piece.size,
        "finished": piece.finished, "exists": piece.exists,
        "state": state_name(ti.state), "try_number": ti.try_number,
    })


__all__ = ["router"]
