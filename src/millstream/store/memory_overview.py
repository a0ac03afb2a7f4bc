"""The overview's queries answered from the in-memory repositories."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime

from millstream.model.states import DagRunState, TaskState
from millstream.store.interfaces import RunRepo, TaskInstanceRepo
from millstream.store.overview import GridInstance
from millstream.store.records import DagRunRecord, TaskInstanceRecord

_EARLIEST = datetime.min.replace(tzinfo=UTC)


class MemoryOverviewRepo:
    """Filters the other repositories' rows (a memory store holds little history)."""

    def __init__(self, runs: RunRepo, task_instances: TaskInstanceRepo) -> None:
        self._runs = runs
        self._task_instances = task_instances

    def runs(self, state: DagRunState, ended_since: datetime | None,
             limit: int) -> tuple[list[DagRunRecord], int]:
        found = [r for r in self._runs.list() if r.state is state
                 and (ended_since is None or (r.end_date is not None
                                              and r.end_date >= ended_since))]
        found.sort(key=lambda r: (r.end_date or _EARLIEST, r.logical_date), reverse=True)
        return found[:max(limit, 0)], len(found)

    def task_instances(self, state: TaskState, ended_since: datetime | None,
                       limit: int) -> tuple[list[TaskInstanceRecord], int]:
        found = [t for t in self._task_instances.in_states([state])
                 if ended_since is None or (t.end_date is not None
                                            and t.end_date >= ended_since)]
        found.sort(key=lambda t: (t.end_date or _EARLIEST, t.start_date or _EARLIEST),
                   reverse=True)
        return found[:max(limit, 0)], len(found)

    def daily_run_states(self, dag_id: str, since: datetime
                         ) -> list[tuple[date, DagRunState, int]]:
        counts: dict[tuple[date, DagRunState], int] = {}
        for run in self._runs.list(dag_id):
            if run.logical_date >= since:
                key = (run.logical_date.astimezone(UTC).date(), run.state)
                counts[key] = counts.get(key, 0) + 1
        return sorted((day, state, n) for (day, state), n in counts.items())

    def grid_instances(self, dag_id: str, run_ids: Collection[str]) -> list[GridInstance]:
        return [GridInstance(ti.task_id, ti.run_id, ti.map_index, ti.state, ti.try_number,
                             ti.start_date, ti.end_date)
                for run_id in run_ids for ti in self._task_instances.for_run(dag_id, run_id)]

    def pool_slots_taken(self) -> dict[tuple[str, TaskState], int]:
        taken: dict[tuple[str, TaskState], int] = {}
        for ti in self._task_instances.in_states([TaskState.RUNNING, TaskState.QUEUED]):
            taken[(ti.pool, ti.state)] = taken.get((ti.pool, ti.state), 0) + ti.pool_slots
        return taken


__all__ = ["MemoryOverviewRepo"]
