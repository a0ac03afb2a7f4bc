"""A DAG's charts as SVG shapes laid out here, drawn by the template: run durations and
task durations over its last runs, and a calendar of its runs' states day by day.

Pure functions over records: no I/O, no JavaScript.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.ui.grid import nice_ceiling
from millstream.ui.states import NO_STATE, state_name, summary_state

WIDTH = 900.0
HEIGHT = 220.0
LEFT = 64.0  # room for the y axis' labels
BOTTOM = 24.0
TOP = 10.0
SERIES = 8
"""The task chart draws the tasks that took longest on average, at most this many."""


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Bar:
    run: DagRunRecord
    x: float
    y: float
    width: float
    height: float
    seconds: float | None


@dataclass(frozen=True, slots=True)
class Series:
    """One task's durations as a polyline (``path``: SVG path data, gaps where it did not
    run), and its points for the hover titles."""

    task_id: str
    index: int
    path: str
    points: list[tuple[float, float, str, float]]  # x, y, run id, seconds


@dataclass(frozen=True, slots=True)
class Axis:
    top: float
    ticks: list[Tick]
    plot_bottom: float


def _axis(longest: float) -> Axis:
    top = nice_ceiling(longest) or 1.0
    plot = HEIGHT - BOTTOM - TOP
    ticks = [Tick(round(TOP + plot * (1 - i / 4), 1), top * i / 4) for i in range(5)]
    return Axis(top, ticks, HEIGHT - BOTTOM)


def _y(seconds: float, axis: Axis) -> float:
    plot = HEIGHT - BOTTOM - TOP
    return round(TOP + plot * (1 - min(seconds / axis.top, 1.0)), 1)


def run_seconds(run: DagRunRecord) -> float | None:
    if run.start_date is None or run.end_date is None:
        return None
    return max((run.end_date - run.start_date).total_seconds(), 0.0)


def run_duration_chart(runs: Sequence[DagRunRecord]) -> tuple[list[Bar], Axis]:
    """A bar per run, oldest left, as tall as the run took (a stub while it runs)."""
    ordered = sorted(runs, key=lambda r: (r.logical_date, r.run_id))
    seconds = [run_seconds(r) for r in ordered]
    axis = _axis(max((s for s in seconds if s), default=0.0))
    step = (WIDTH - LEFT) / max(len(ordered), 1)
    width = max(min(step * 0.7, 40.0), 2.0)
    bars = []
    for index, (run, taken) in enumerate(zip(ordered, seconds, strict=True)):
        y = _y(taken or 0.0, axis)
        height = max(axis.plot_bottom - y, 2.0)
        bars.append(Bar(run, round(LEFT + index * step + (step - width) / 2, 1),
                        min(y, axis.plot_bottom - 2.0), round(width, 1), round(height, 1),
                        taken))
    return bars, axis


def task_duration_chart(runs: Sequence[DagRunRecord], instances: Iterable[TaskInstanceRecord],
                        limit: int = SERIES) -> tuple[list[Series], Axis, list[float]]:
    """A line per task (the ``limit`` slowest on average) through its duration in each run;
    also each run's x."""
    ordered = sorted(runs, key=lambda r: (r.logical_date, r.run_id))
    column = {run.run_id: i for i, run in enumerate(ordered)}
    step = (WIDTH - LEFT) / max(len(ordered), 1)
    xs = [round(LEFT + i * step + step / 2, 1) for i in range(len(ordered))]
    taken: dict[str, dict[int, float]] = defaultdict(dict)
    for ti in instances:
        if ti.run_id not in column or ti.duration is None:
            continue
        slot = taken[ti.task_id]
        index = column[ti.run_id]
        slot[index] = max(slot.get(index, 0.0), ti.duration)  # a mapped task: its slowest
    slowest = sorted(taken, key=lambda t: (-sum(taken[t].values()) / len(taken[t]), t))[:limit]
    axis = _axis(max((max(taken[t].values()) for t in slowest), default=0.0))
    series = []
    for number, task_id in enumerate(slowest):
        parts: list[str] = []
        points = []
        previous = -2
        for index in sorted(taken[task_id]):
            x, y = xs[index], _y(taken[task_id][index], axis)
            parts.append(f"{'L' if index == previous + 1 else 'M'}{x},{y}")
            points.append((x, y, ordered[index].run_id, taken[task_id][index]))
            previous = index
        series.append(Series(task_id, number, " ".join(parts), points))
    return series, axis, xs


@dataclass(frozen=True, slots=True)
class Day:
    day: date
    x: float
    y: float
    state: str
    counts: list[tuple[str, int]]


CELL = 13.0
CALENDAR_LEFT = 30.0
CALENDAR_TOP = 18.0


def calendar(day_states: Iterable[tuple[date, object, int]], today: date,
             weeks: int = 26) -> tuple[list[Day], list[tuple[float, str]], float]:
    """A square per day of the last ``weeks`` weeks (columns of Monday to Sunday), coloured
    by the most urgent state of that day's runs; also the month labels and the width."""
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for day, state, n in day_states:
        counts[day][state_name(state)] = counts[day].get(state_name(state), 0) + n
    last_monday = today - timedelta(days=today.weekday())
    first = last_monday - timedelta(weeks=weeks - 1)
    days = []
    months: list[tuple[float, str]] = []
    for week in range(weeks):
        monday = first + timedelta(weeks=week)
        x = CALENDAR_LEFT + week * CELL
        if week == 0 or monday.month != (monday - timedelta(weeks=1)).month:
            months.append((x, monday.strftime("%b")))
        for weekday in range(7):
            day = monday + timedelta(days=weekday)
            if day > today:
                break
            found = counts.get(day, {})
            state = summary_state(s for s, n in found.items() for _ in range(min(n, 1))) \
                if found else NO_STATE
            days.append(Day(day, x, CALENDAR_TOP + weekday * CELL, state,
                            sorted(found.items())))
    return days, months, CALENDAR_LEFT + weeks * CELL + 4


__all__ = ["Axis", "Bar", "Day", "Series", "calendar", "run_duration_chart", "run_seconds",
           "task_duration_chart"]
