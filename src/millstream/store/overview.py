"""The UI's overview queries: runs and task instances of every DAG in one state, newest
first, within a window, each answered from an index on (state, end date), never by reading
the whole history; a DAG's runs counted by day; and the grid's light read of many runs'
task instances."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import NamedTuple, Protocol

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import DagRunRecord, TaskInstanceRecord


class GridInstance(NamedTuple):
    """What the grid shows of one task instance (a tuple: a big grid has 25,000)."""

    task_id: str
    run_id: str
    map_index: int
    state: TaskState
    try_number: int
    start_date: datetime | None
    end_date: datetime | None


class OverviewRepo(Protocol):
    """Runs and task instances of all DAGs in one state, for the UI's home page."""

    def runs(self, state: DagRunState, ended_since: datetime | None,
             limit: int) -> tuple[list[DagRunRecord], int]:
        """Up to ``limit`` runs in ``state`` (newest end first, then newest logical date),
        and how many there are in all. ``ended_since``: only runs that ended then or later
        (for finished states); None: every run in the state (for live states)."""
        ...

    def task_instances(self, state: TaskState, ended_since: datetime | None,
                       limit: int) -> tuple[list[TaskInstanceRecord], int]:
        """As :meth:`runs`, for task instances (newest end first, then newest start)."""
        ...

    def daily_run_states(self, dag_id: str, since: datetime
                         ) -> list[tuple[date, DagRunState, int]]:
        """(UTC day of the logical date, state, how many runs) of one DAG's runs whose
        logical date is ``since`` or later, by day: the calendar chart's squares."""
        ...

    def grid_instances(self, dag_id: str, run_ids: Collection[str]) -> list[GridInstance]:
        """What the grid shows of these runs' task instances (task, run, map index, state,
        try number, start and end): a grid of 1,000 tasks and 25 runs reads 25,000."""
        ...

    def pool_slots_taken(self) -> dict[tuple[str, TaskState], int]:
        """(pool, state) -> the slots its running and its queued task instances take."""
        ...


__all__ = ["GridInstance", "OverviewRepo"]
