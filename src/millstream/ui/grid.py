"""The grid view's model: rows of tasks (under their groups), columns of runs, a state per cell.

Pure functions over a DAG structure, some runs and their task instances, so the page,
its live-update endpoint and the tests all build the same grid.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.ui.graph import short_label
from millstream.ui.states import NO_STATE, state_name, summary_state

BAR_STEPS = 10


@dataclass(frozen=True, slots=True)
class GridRow:
    """A task, or a group standing for ``task_ids``; ``depth`` is how deep it is nested."""

    id: str
    kind: str  # "task" or "group"
    label: str
    depth: int
    parent: str | None
    task_ids: tuple[str, ...]
    is_mapped: bool = False


@dataclass(frozen=True, slots=True)
class GridCell:
    """A row's state in one run; ``count`` is how many map indexes a mapped task has."""

    state: str
    count: int = 0
    try_number: int = 0


@dataclass(frozen=True, slots=True)
class GridColumn:
    """One run, and how tall its duration bar is (0 to BAR_STEPS)."""

    run: DagRunRecord
    duration: float | None
    bar: int


@dataclass(frozen=True, slots=True)
class Grid:
    rows: list[GridRow]
    columns: list[GridColumn]  # oldest run first
    cells: dict[tuple[str, str], GridCell]  # (row id, run id)

    def cell(self, row_id: str, run_id: str) -> GridCell:
        return self.cells.get((row_id, run_id), GridCell(NO_STATE))


def grid_rows(structure: object) -> list[GridRow]:
    """Rows in topological order, each group right before its members (nested groups too)."""
    groups: dict[str, dict[str, object]] = getattr(structure, "task_groups", {})
    tasks = list(structure.topological_sort())  # type: ignore[attr-defined]
    parent = {gid: info.get("parent") for gid, info in groups.items()}

    def chain(group: str | None) -> list[str]:
        found: list[str] = []
        while group is not None and group not in found:
            found.append(group)
            group = parent.get(group)  # type: ignore[assignment]
        return list(reversed(found))

    children: dict[str | None, list[tuple[str, str]]] = defaultdict(list)
    members: dict[str, list[str]] = defaultdict(list)
    seen_groups: set[str] = set()
    mapped: dict[str, bool] = {}
    for task in tasks:
        task_id = task.task_id
        mapped[task_id] = bool(task.is_mapped)
        path = chain(task.task_group_id)
        above: str | None = None
        for group in path:
            members[group].append(task_id)
            if group not in seen_groups:
                seen_groups.add(group)
                children[above].append(("group", group))
            above = group
        children[above].append(("task", task_id))
    rows: list[GridRow] = []

    def walk(container: str | None, depth: int) -> None:
        for kind, name in children.get(container, []):
            if kind == "group":
                rows.append(GridRow(name, "group", short_label(name, container), depth, container,
                                    tuple(members[name])))
                walk(name, depth + 1)
            else:
                rows.append(GridRow(name, "task", short_label(name, container), depth, container,
                                    (name,), mapped[name]))

    walk(None, 0)
    return rows


def build_grid(structure: object, runs: Sequence[DagRunRecord],
               instances: Iterable[TaskInstanceRecord]) -> Grid:
    """The grid of ``runs`` (any order; shown oldest first) and their instances."""
    rows = grid_rows(structure)
    ordered = sorted(runs, key=lambda r: r.logical_date)
    by_cell: dict[tuple[str, str], list[TaskInstanceRecord]] = defaultdict(list)
    for ti in instances:
        by_cell[(ti.task_id, ti.run_id)].append(ti)
    cells: dict[tuple[str, str], GridCell] = {}
    for run in ordered:
        for row in rows:
            found = [ti for task_id in row.task_ids
                     for ti in by_cell.get((task_id, run.run_id), [])]
            if not found:
                continue
            count = sum(1 for ti in found if ti.map_index >= 0) if row.kind == "task" else 0
            try_number = found[0].try_number if row.kind == "task" and len(found) == 1 else 0
            cells[(row.id, run.run_id)] = GridCell(summary_state(ti.state for ti in found), count,
                                                   try_number)
    durations = [_duration(run) for run in ordered]
    longest = max((d for d in durations if d), default=0.0)
    columns = [
        GridColumn(run, duration,
                   round(BAR_STEPS * duration / longest) if duration and longest else 0)
        for run, duration in zip(ordered, durations, strict=True)
    ]
    return Grid(rows, columns, cells)


def grid_states(grid: Grid) -> dict[str, object]:
    """The grid's states as JSON-ready data, for the page's live updates."""
    return {
        "runs": [{"run_id": c.run.run_id, "state": state_name(c.run.state), "bar": c.bar}
                 for c in grid.columns],
        "cells": {row.id: {c.run.run_id: grid.cell(row.id, c.run.run_id).state
                           for c in grid.columns} for row in grid.rows},
    }


def _duration(run: DagRunRecord) -> float | None:
    if run.start_date is None:
        return None
    if run.end_date is None:
        return None  # still running: its bar grows once it has ended
    return max((run.end_date - run.start_date).total_seconds(), 0.0)


__all__ = ["Grid", "GridCell", "GridColumn", "GridRow", "build_grid", "grid_rows", "grid_states"]
