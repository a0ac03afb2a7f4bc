"""The grid view's model: rows of tasks (under their groups), columns of runs, a state per cell.

Pure functions over a DAG structure, some runs and their task instances, so the page,
its live-update endpoint and the tests all build the same grid.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from millstream.model.states import TaskState
from millstream.store.overview import GridInstance
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.ui.graph import short_label
from millstream.ui.states import NO_STATE, state_name, summary_state
from millstream.ui.templating import format_duration

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

    @property
    def q(self) -> str:
        """The id, percent-encoded for a query string."""
        return quote(self.id, safe="")


@dataclass(slots=True)  # not frozen: a big grid makes tens of thousands
class GridCell:
    """A row's state in one run; ``count`` is how many map indexes a mapped task has.

    ``try_number`` is the instance's try (the highest of a mapped task's); ``start`` and
    ``end`` span what ran (``end`` None while any of it runs).
    """

    state: str
    count: int = 0
    try_number: int = 0
    start: datetime | None = None
    end: datetime | None = None

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max((self.end - self.start).total_seconds(), 0.0)


EMPTY_CELL = GridCell(NO_STATE)

RUN_TYPE_MARKS = {"scheduled": "S", "manual": "M", "backfill": "B", "asset_triggered": "A"}
"""The letter a run header shows for its run type."""


@dataclass(frozen=True, slots=True)
class GridColumn:
    """One run, its unique header label, and how tall its duration bar is (0 to BAR_STEPS)."""

    run: DagRunRecord
    duration: float | None
    bar: int
    label: str = ""
    q: str = ""  # the run id, percent-encoded for a query string

    @property
    def type_mark(self) -> str:
        return RUN_TYPE_MARKS.get(self.run.run_type, self.run.run_type[:1].upper() or "?")


@dataclass(frozen=True, slots=True)
class Grid:
    rows: list[GridRow]
    columns: list[GridColumn]  # oldest run first
    cells: dict[tuple[str, str], GridCell]  # (row id, run id)
    axis_max: float = 0.0  # the duration at the top of the bars' axis, in seconds

    def cell(self, row_id: str, run_id: str) -> GridCell:
        return self.cells.get((row_id, run_id), EMPTY_CELL)

    def row_cells(self, row: GridRow) -> list[tuple[GridColumn, GridCell]]:
        """The row's cells, one per column, oldest run first."""
        cells = self.cells
        return [(col, cells.get((row.id, col.run.run_id), EMPTY_CELL)) for col in self.columns]

    @property
    def axis_ticks(self) -> list[tuple[int, float]]:
        """(bar step, seconds) of the axis' labelled ticks: top, middle and zero."""
        if not self.axis_max:
            return []
        return [(BAR_STEPS, self.axis_max), (BAR_STEPS // 2, self.axis_max / 2), (0, 0.0)]


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
               instances: Iterable[TaskInstanceRecord | GridInstance]) -> Grid:
    """The grid of ``runs`` (any order; shown oldest first) and their instances."""
    rows = grid_rows(structure)
    ordered = sorted(runs, key=lambda r: (r.logical_date, r.run_id))
    # One pass over what may be 25,000 instances: most cells have exactly one, only a
    # mapped task's have more (kept apart in `more`).
    first: dict[tuple[str, str], TaskInstanceRecord | GridInstance] = {}
    more: dict[tuple[str, str], list[TaskInstanceRecord | GridInstance]] = defaultdict(list)
    for ti in instances:
        key = (ti.task_id, ti.run_id)
        if key in first:
            more[key].append(ti)
        else:
            first[key] = ti
    cells: dict[tuple[str, str], GridCell] = {}
    task_rows = {row.id: row for row in rows if row.kind == "task"}
    names = _STATE_NAMES
    for key, ti in first.items():
        task_row = task_rows.get(key[0])
        if task_row is None:
            continue
        if key in more:
            cells[key] = _cell(task_row, [ti, *more[key]])
            continue
        start = ti.start_date
        cells[key] = GridCell(names.get(ti.state) or state_name(ti.state),
                              1 if ti.map_index >= 0 else 0, ti.try_number, start,
                              ti.end_date if start is not None else None)
    for row in rows:
        if row.kind == "task":
            continue
        for run in ordered:
            group = [found for task_id in row.task_ids
                     for found in _instances(first, more, (task_id, run.run_id))]
            if group:
                cells[(row.id, run.run_id)] = _cell(row, group)
    durations = [_duration(run) for run in ordered]
    longest = max((d for d in durations if d), default=0.0)
    axis_max = nice_ceiling(longest) if longest else 0.0
    labels = column_labels(ordered)
    columns = [
        GridColumn(run, duration,
                   round(BAR_STEPS * duration / axis_max) if duration and axis_max else 0,
                   label, quote(run.run_id, safe=""))
        for run, duration, label in zip(ordered, durations, labels, strict=True)
    ]
    return Grid(rows, columns, cells, axis_max)


def _instances(first: dict[tuple[str, str], TaskInstanceRecord | GridInstance],
               more: dict[tuple[str, str], list[TaskInstanceRecord | GridInstance]],
               key: tuple[str, str]) -> list[TaskInstanceRecord | GridInstance]:
    found = first.get(key)
    if found is None:
        return []
    return [found, *more[key]] if key in more else [found]


_STATE_NAMES: dict[object, str] = {state: state.value for state in TaskState}
"""Each state's name: a dict look-up is much quicker than an enum's ``.value``."""


def _cell(row: GridRow, found: list[TaskInstanceRecord | GridInstance]) -> GridCell:
    if len(found) == 1 and row.kind == "task":  # the common case, kept quick for big grids
        ti = found[0]
        count = 1 if ti.map_index >= 0 else 0
        end = ti.end_date if ti.start_date is not None else None
        return GridCell(_STATE_NAMES.get(ti.state) or state_name(ti.state), count,
                        ti.try_number, ti.start_date, end)
    state = summary_state(ti.state for ti in found)
    if row.kind != "task":
        return GridCell(state)
    count = sum(1 for ti in found if ti.map_index >= 0)
    starts = [ti.start_date for ti in found if ti.start_date is not None]
    ends = [ti.end_date for ti in found if ti.end_date is not None]
    start = min(starts) if starts else None
    end = max(ends) if ends and len(ends) == len(starts) else None
    return GridCell(state, count, max(ti.try_number for ti in found), start, end)


def column_labels(runs: Sequence[DagRunRecord]) -> list[str]:
    """A header label per run, unique among ``runs``: the logical date to the minute, to
    the second where two share a minute, and numbered where two share a second."""
    minutes = [run.logical_date.strftime("%m-%d %H:%M") for run in runs]
    clashing = {m for m in minutes if minutes.count(m) > 1}
    labels = [run.logical_date.strftime("%m-%d %H:%M:%S") if m in clashing else m
              for run, m in zip(runs, minutes, strict=True)]
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return unique


_NICE = (1.0, 2.0, 2.5, 3.0, 5.0, 10.0)
_CLOCK = (15.0, 20.0, 30.0, 45.0, 60.0)


def nice_ceiling(seconds: float) -> float:
    """A round duration at or above ``seconds`` for an axis top: 1, 2, 2.5, 3 or 5 times a
    power of ten up to 10 s, then 15, 20, 30, 45 or 60 of a unit, and the same in minutes
    and in hours."""
    if seconds <= 0:
        return 0.0
    for unit in (3600.0, 60.0):
        if seconds > unit:
            return unit * nice_ceiling(seconds / unit) if seconds / unit > 1 else unit
    if 10 < seconds <= 60:  # a clock's steps, not a decimal one's
        return next(step for step in _CLOCK if step >= seconds - 1e-12)
    magnitude = 10 ** math.floor(math.log10(seconds))
    for step in _NICE:
        if step * magnitude >= seconds - 1e-12:
            return round(step * magnitude, 9)
    return 10 * magnitude


def grid_states(grid: Grid) -> dict[str, object]:
    """The grid's states as JSON-ready data, for the page's live updates; ``info`` holds
    each task cell's hover card facts: [try, duration, start, end] as the page shows them."""
    info: dict[str, dict[str, list[object]]] = {}
    for row in grid.rows:
        if row.kind != "task":
            continue
        facts = {col.run.run_id: cell_facts(cell) for col, cell in grid.row_cells(row)
                 if cell.state != NO_STATE}
        if facts:
            info[row.id] = facts
    return {
        "runs": [{"run_id": c.run.run_id, "state": state_name(c.run.state), "bar": c.bar}
                 for c in grid.columns],
        "cells": {row.id: {c.run.run_id: grid.cell(row.id, c.run.run_id).state
                           for c in grid.columns} for row in grid.rows},
        "info": info,
    }


def cell_facts(cell: GridCell) -> list[object]:
    """[try, duration, start, end] of a cell as its hover card shows them."""
    return [cell.try_number, format_duration(cell.duration), short_moment(cell.start),
            short_moment(cell.end)]


def short_moment(value: datetime | None) -> str:
    """``12-05 06:00:03``, or an empty string."""
    return value.strftime("%m-%d %H:%M:%S") if value is not None else ""


def _duration(run: DagRunRecord) -> float | None:
    if run.start_date is None:
        return None
    if run.end_date is None:
        return None  # still running: its bar grows once it has ended
    return max((run.end_date - run.start_date).total_seconds(), 0.0)


__all__ = ["Grid", "GridCell", "GridColumn", "GridRow", "build_grid", "cell_facts",
           "column_labels", "grid_rows", "grid_states", "nice_ceiling", "short_moment"]
