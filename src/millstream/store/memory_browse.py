"""Bounded read-only queries for the web UI's pages, over the in-memory store's repositories."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from millstream.model.states import DagRunState
from millstream.store.records import (
    DagRunRecord,
    TaskInstanceRecord,
    TaskTryRecord,
)

if TYPE_CHECKING:
    from millstream.store.interfaces import DagRepo, RunRepo, TaskInstanceRepo


class MemoryRepos(Protocol):
    """The memory store's repositories this one reads (the memory store passes itself)."""

    @property
    def runs(self) -> RunRepo: ...

    @property
    def task_instances(self) -> TaskInstanceRepo: ...

    @property
    def dags(self) -> DagRepo: ...


class MemoryBrowseRepo:
    """The UI's page queries answered from the other in-memory repositories."""

    def __init__(self, store: MemoryRepos) -> None:
        self._store = store

    def latest_runs(self, dag_id: str, limit: int,
                    before: datetime | None = None) -> list[DagRunRecord]:
        runs = [r for r in self._store.runs.list(dag_id)
                if before is None or r.logical_date < before]
        runs.reverse()
        return runs[:max(limit, 0)]

    def latest_runs_per_dag(self, dag_ids: Collection[str],
                            limit: int) -> dict[str, list[DagRunRecord]]:
        found: dict[str, list[DagRunRecord]] = {}
        for dag_id in sorted(set(dag_ids)):
            runs = self.latest_runs(dag_id, limit)
            if runs:
                found[dag_id] = runs
        return found

    def run_state_counts(self, dag_ids: Collection[str]) -> dict[str, dict[DagRunState, int]]:
        counts: dict[str, dict[DagRunState, int]] = {}
        for dag_id in set(dag_ids):
            for run in self._store.runs.list(dag_id):
                per_state = counts.setdefault(dag_id, {})
                per_state[run.state] = per_state.get(run.state, 0) + 1
        return counts

    def run_count(self, dag_id: str) -> int:
        return len(self._store.runs.list(dag_id))

    def instances_for_runs(self, dag_id: str,
                           run_ids: Collection[str]) -> list[TaskInstanceRecord]:
        found: list[TaskInstanceRecord] = []
        for run_id in sorted(set(run_ids)):
            found.extend(sorted(self._store.task_instances.for_run(dag_id, run_id),
                                key=lambda ti: (ti.task_id, ti.map_index)))
        return found

    def tries_for_run(self, dag_id: str, run_id: str) -> list[TaskTryRecord]:
        found: list[TaskTryRecord] = []
        for ti in sorted(self._store.task_instances.for_run(dag_id, run_id),
                         key=lambda ti: (ti.task_id, ti.map_index)):
            found.extend(sorted(self._store.task_instances.tries(ti.key),
                                key=lambda t: t.try_number))
        return found

    def latest_structures(self, dag_ids: Collection[str]) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for dag_id in dag_ids:
            record = self._store.dags.get(dag_id)
            if record is None or record.latest_version is None:
                continue
            text = self._store.dags.structure(dag_id)
            if text is not None:
                found[dag_id] = (record.latest_version, text)
        return found
