"""Pages of the REST API's long lists (runs, task instances, XComs, DAGs) in the memory store."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

from millstream.model.states import DagRunState, TaskState
from millstream.store.listing_records import PageRecord, check_window
from millstream.store.records import (
    DagRecord,
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
)

if TYPE_CHECKING:
    from millstream.store.interfaces import DagRepo, RunRepo, TaskInstanceRepo, XComRepo

T = TypeVar("T")


def _page(items: Sequence[T], limit: int | None, offset: int) -> PageRecord[T]:
    check_window(limit, offset)
    end = None if limit is None else offset + limit
    return PageRecord(list(items[offset:end]), len(items))


class MemoryRepos(Protocol):
    """The memory store's repositories this one reads (the memory store passes itself)."""

    @property
    def runs(self) -> RunRepo: ...

    @property
    def task_instances(self) -> TaskInstanceRepo: ...

    @property
    def dags(self) -> DagRepo: ...

    @property
    def xcoms(self) -> XComRepo: ...


class MemoryListingRepo:
    """The listing queries answered from the other in-memory repositories."""

    def __init__(self, store: MemoryRepos) -> None:
        self._store = store

    def runs(self, dag_id: str | None, states: Collection[DagRunState] | None,
             newest_first: bool, limit: int, offset: int = 0) -> PageRecord[DagRunRecord]:
        found = self._store.runs.list(dag_id, states)
        found.sort(key=lambda r: (r.logical_date, r.dag_id, r.run_id), reverse=newest_first)
        return _page(found, limit, offset)

    def task_instances(self, dag_id: str, run_id: str, states: Collection[TaskState] | None,
                       limit: int, offset: int = 0) -> PageRecord[TaskInstanceRecord]:
        wanted = None if states is None else {TaskState(s) for s in states}
        found = [ti for ti in self._store.task_instances.for_run(dag_id, run_id)
                 if wanted is None or ti.state in wanted]
        found.sort(key=lambda ti: (ti.task_id, ti.map_index))
        return _page(found, limit, offset)

    def xcom_entries(self, key: TaskInstanceKey, limit: int,
                     offset: int = 0) -> PageRecord[tuple[str, str]]:
        return _page(self._store.xcoms.entries(key), limit, offset)

    def dags(self, active_only: bool, paused: bool | None, id_contains: str | None,
             limit: int | None, offset: int = 0) -> PageRecord[DagRecord]:
        needle = id_contains.lower() if id_contains else None
        found = [d for d in self._store.dags.list(active_only=active_only)
                 if (paused is None or d.is_paused == paused)
                 and (needle is None or needle in d.dag_id.lower())]
        return _page(found, limit, offset)
