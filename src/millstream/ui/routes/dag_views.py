"""A DAG's views of one run: the graph and the Gantt chart (the grid is in grid_views)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from millstream.api.deps import StoreDep
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord, TaskTryRecord
from millstream.ui.dagpage import (
    load_header,
    load_structure,
    require_run,
    utcnow,
)
from millstream.ui.graph import draw_graph, graph_tasks
from millstream.ui.session import PageUser
from millstream.ui.states import summary_state
from millstream.ui.templating import format_duration, render

router = APIRouter()

PICKER_RUNS = 25


def pick_run(store: Store, dag_id: str, run_id: str | None,
             recent: list[DagRunRecord]) -> DagRunRecord | None:
    """The run a view shows: the one asked for, else the latest."""
    if run_id:
        return require_run(store, dag_id, run_id)
    return recent[0] if recent else None


@router.get("/dags/{dag_id}/graph", include_in_schema=False)
def graph_page(
    request: Request,
    dag_id: str,
    store: StoreDep,
    _: PageUser,
    run_id: str | None = None,
    expand: Annotated[list[str] | None, Query()] = None,
) -> Any:
    """The DAG's tasks laid out left to right, coloured by their state in one run."""
    with store.transaction():
        recent = store.browse.latest_runs(dag_id, PICKER_RUNS)
        header = load_header(store, dag_id)
        run = pick_run(store, dag_id, run_id, recent)
        structure = header.structure
        instances: list[TaskInstanceRecord] = []
        if run is not None:
            structure = load_structure(store, dag_id, run.dag_version)
            instances = store.task_instances.for_run(dag_id, run.run_id)
    tasks, groups = graph_tasks(structure)
    expand = expand or []
    expanded = set(expand) & set(groups)
    if "*" in expand:
        expanded = set(groups)
    drawing = draw_graph(tasks, groups, expanded)
    states = node_states(drawing_task_ids(drawing), instances)
    facts = node_facts(drawing_task_ids(drawing), instances,
                       {t.task_id for t in tasks if t.is_mapped})
    if run is not None and run not in recent:
        recent = [run, *recent]
    return render(request, "dag_graph.html", {
        "nav": "dags", "tab": "graph", "header": header, "drawing": drawing, "run": run,
        "states": states, "facts": facts, "recent": recent, "expanded": sorted(expanded),
        "all_groups": sorted(groups),
        "edge_labels": edge_labels(structure),
    })


def edge_labels(structure: Any) -> dict[str, str]:
    """``"upstream>downstream"`` -> the text of the Label on that edge."""
    info = getattr(structure, "edge_info", None) or {}
    return {f"{up}>{down}": str(data["label"]) for (up, down), data in info.items()
            if data.get("label")}


def drawing_task_ids(drawing: Any) -> dict[str, tuple[str, ...]]:
    """Each drawn node or group box, and the tasks it stands for."""
    ids = {node.id: node.task_ids for node in drawing.nodes}
    ids.update({group.group_id: group.task_ids for group in drawing.groups})
    return ids


def node_states(nodes: dict[str, tuple[str, ...]],
                instances: list[TaskInstanceRecord]) -> dict[str, str]:
    """The state shown on each node: its task's, or the summary of a group's tasks."""
    by_task: dict[str, list[object]] = {}
    for ti in instances:
        by_task.setdefault(ti.task_id, []).append(ti.state)
    return {node: summary_state(s for task in tasks for s in by_task.get(task, []))
            for node, tasks in nodes.items()}


@dataclass(frozen=True, slots=True)
class NodeFacts:
    """What a node shows of the chosen run: its duration, and a mapped task's count."""

    duration: str
    count: str


def node_facts(nodes: dict[str, tuple[str, ...]], instances: list[TaskInstanceRecord],
               mapped: set[str]) -> dict[str, NodeFacts]:
    """Each node's span in the run (first start to last end; empty while any part runs) and,
    for a mapped task, ``[n]`` with its number of map indexes (``[ ]`` before expansion)."""
    by_task: dict[str, list[TaskInstanceRecord]] = {}
    for ti in instances:
        by_task.setdefault(ti.task_id, []).append(ti)
    facts = {}
    for node, task_ids in nodes.items():
        found = [ti for task in task_ids for ti in by_task.get(task, [])]
        starts = [ti.start_date for ti in found if ti.start_date is not None]
        ends = [ti.end_date for ti in found if ti.end_date is not None]
        duration = ""
        if starts and len(ends) == len(starts):
            duration = format_duration((max(ends) - min(starts)).total_seconds())
        count = ""
        if len(task_ids) == 1 and task_ids[0] in mapped:
            indexes = sum(1 for ti in found if ti.map_index >= 0)
            count = f"[{indexes}]" if indexes else "[ ]"
        facts[node] = NodeFacts(duration, count)
    return facts


@dataclass(frozen=True, slots=True)
class GanttBar:
    """One try of one task instance, as a bar."""

    label: str
    task_id: str
    map_index: int
    try_number: int
    state: str
    start: datetime
    end: datetime
    running: bool


@dataclass(frozen=True, slots=True)
class GanttRow:
    label: str
    task_id: str
    map_index: int
    bars: list[GanttBar]


def gantt_rows(instances: list[TaskInstanceRecord], tries: list[TaskTryRecord],
               now: datetime) -> list[GanttRow]:
    """A row per instance that has started, with a bar per try (the current one included)."""
    by_key: dict[tuple[str, int], list[TaskTryRecord]] = {}
    for record in tries:
        by_key.setdefault((record.key.task_id, record.key.map_index), []).append(record)
    rows: list[GanttRow] = []
    for ti in sorted(instances, key=lambda t: (t.start_date or now, t.task_id, t.map_index)):
        bars: list[GanttBar] = []
        recorded = by_key.get((ti.task_id, ti.map_index), [])
        for record in recorded:
            if record.start_date is None:
                continue
            bars.append(GanttBar(ti.label, ti.task_id, ti.map_index, record.try_number,
                                 record.state.value, record.start_date,
                                 record.end_date or record.start_date, False))
        tried = ti.try_number >= 1  # skipped or upstream_failed instances never ran
        if tried and ti.start_date is not None and \
                ti.try_number not in {r.try_number for r in recorded}:
            running = ti.end_date is None
            bars.append(GanttBar(ti.label, ti.task_id, ti.map_index, ti.try_number,
                                 ti.state.value, ti.start_date, ti.end_date or now, running))
        if bars:
            rows.append(GanttRow(ti.label, ti.task_id, ti.map_index, bars))
    return rows


@router.get("/dags/{dag_id}/gantt", include_in_schema=False)
def gantt_page(
    request: Request,
    dag_id: str,
    store: StoreDep,
    _: PageUser,
    run_id: str | None = None,
) -> Any:
    """When each task of one run ran, try by try, on one time axis."""
    now = utcnow()
    with store.transaction():
        recent = store.browse.latest_runs(dag_id, PICKER_RUNS)
        header = load_header(store, dag_id)
        run = pick_run(store, dag_id, run_id, recent)
        rows: list[GanttRow] = []
        if run is not None:
            rows = gantt_rows(store.task_instances.for_run(dag_id, run.run_id),
                              store.browse.tries_for_run(dag_id, run.run_id), now)
    chart = gantt_chart(rows, now)
    if run is not None and run not in recent:
        recent = [run, *recent]
    return render(request, "dag_gantt.html", {
        "nav": "dags", "tab": "gantt", "header": header, "run": run, "recent": recent,
        "chart": chart,
    })


GANTT_LABEL_WIDTH = 240.0
GANTT_PLOT_WIDTH = 860.0
GANTT_ROW = 24.0
GANTT_TOP = 28.0


def gantt_chart(rows: list[GanttRow], now: datetime) -> dict[str, Any] | None:
    """Bars placed on an SVG canvas, with a time axis of about six ticks."""
    bars = [bar for row in rows for bar in row.bars]
    if not bars:
        return None
    start = min(bar.start for bar in bars)
    end = max(bar.end for bar in bars)
    span = max((end - start).total_seconds(), 0.001)
    scale = GANTT_PLOT_WIDTH / span
    placed = []
    for index, row in enumerate(rows):
        y = GANTT_TOP + index * GANTT_ROW
        for bar in row.bars:
            x = GANTT_LABEL_WIDTH + (bar.start - start).total_seconds() * scale
            width = max((bar.end - bar.start).total_seconds() * scale, 2.0)
            placed.append({"bar": bar, "x": round(x, 1), "y": y + 4, "width": round(width, 1),
                           "height": GANTT_ROW - 8})
    step = _nice_step(span / 6)
    ticks = []
    moment = 0.0
    while moment <= span + 1e-9:
        ticks.append({"x": round(GANTT_LABEL_WIDTH + moment * scale, 1), "seconds": moment})
        moment += step
    return {
        "rows": [{"row": row, "y": GANTT_TOP + i * GANTT_ROW} for i, row in enumerate(rows)],
        "bars": placed, "ticks": ticks, "start": start, "end": end, "span": span,
        "width": GANTT_LABEL_WIDTH + GANTT_PLOT_WIDTH + 20,
        "height": GANTT_TOP + len(rows) * GANTT_ROW + 8,
        "label_width": GANTT_LABEL_WIDTH,
    }


def _nice_step(raw: float) -> float:
    for step in (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
                 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400):
        if step >= raw:
            return float(step)
    return float(86400 * max(1, round(raw / 86400)))


__all__ = ["NodeFacts", "gantt_chart", "gantt_rows", "node_facts", "node_states", "router"]
