"""The grid (runs by tasks) and its details panel: a cell's task try or a header's run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from millstream.api.deps import SettingsDep, StoreDep
from millstream.api.remote_logs import RemoteLogs
from millstream.ui.dagpage import int_param, load_header, moment_param
from millstream.ui.details import load_details
from millstream.ui.grid import build_grid
from millstream.ui.grid_html import html_columns, row_cells_html
from millstream.ui.session import PageUser
from millstream.ui.templating import render

router = APIRouter()

RUN_COUNTS = (10, 25, 50, 100)
DEFAULT_RUNS = 25


@router.get("/dags/{dag_id}", include_in_schema=False)
def dag_home(dag_id: str, _: PageUser) -> RedirectResponse:
    return RedirectResponse(f"/dags/{dag_id}/grid", status_code=303)


@router.get("/dags/{dag_id}/grid", include_in_schema=False)
def grid_page(
    request: Request,
    dag_id: str,
    store: StoreDep,
    settings: SettingsDep,
    _: PageUser,
    runs: str | None = None,
    before: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: str | None = None,
) -> Any:
    """Runs (columns, oldest left) by tasks (rows); a cell opens its task try beside the
    grid, a run header its run (``run_id`` and ``task_id`` open one from the address)."""
    count = int_param(runs, DEFAULT_RUNS)
    count = count if count in RUN_COUNTS else DEFAULT_RUNS
    until = moment_param(before)
    with store.transaction():
        shown = store.browse.latest_runs(dag_id, count, before=until)
        header = load_header(store, dag_id)
        instances = store.overview.grid_instances(dag_id, [r.run_id for r in shown])
        older = bool(shown) and bool(store.browse.latest_runs(dag_id, 1,
                                                              before=shown[-1].logical_date))
    details = None
    if run_id:
        details = load_details(store, settings.logging.base_log_folder, dag_id, run_id,
                               task_id, int_param(map_index, -1, -1),
                               RemoteLogs.from_settings(settings))
    grid = build_grid(header.structure, shown, instances)
    return render(request, "dag_grid.html", {
        "nav": "dags", "tab": "grid", "header": header, "grid": grid,
        "runs": count, "run_counts": RUN_COUNTS, "before": before,
        "older_before": shown[-1].logical_date.isoformat() if older else None,
        "live": until is None, "d": details, "dag_id": dag_id,
        "row_cells_html": row_cells_html, "html_columns": html_columns,
    })


@router.get("/dags/{dag_id}/grid/details", include_in_schema=False)
def grid_details(request: Request, dag_id: str, store: StoreDep, settings: SettingsDep,
                 _: PageUser, run_id: str | None = None, task_id: str | None = None,
                 map_index: str | None = None) -> Any:
    """The details panel alone (HTML), for the grid page to show beside the grid."""
    details = load_details(store, settings.logging.base_log_folder, dag_id, run_id, task_id,
                           int_param(map_index, -1, -1), RemoteLogs.from_settings(settings))
    return render(request, "_grid_details.html", {"d": details, "dag_id": dag_id})


__all__ = ["DEFAULT_RUNS", "RUN_COUNTS", "router"]
