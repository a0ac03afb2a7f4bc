"""What the UI's home shows across every DAG: the failed and live runs and task instances
of a window, the DAG files that fail to load, the services' health and the pools' use.

Every list is cut in the store (newest first, ``limit`` rows) and counted there, from the
(state, end date) indexes: the page costs the same with a year of history as with a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from millstream.model.states import DagRunState, TaskState
from millstream.store.interfaces import Store
from millstream.store.job_records import JobRecord
from millstream.store.records import DagRunRecord, ImportErrorRecord, TaskInstanceRecord

T = TypeVar("T")

WINDOWS_H = (1, 6, 24, 72, 168)
"""The windows a user picks from, in hours."""
DEFAULT_WINDOW_H = 24
ROWS = 50
"""Rows per list; the total is counted apart."""


@dataclass(frozen=True, slots=True)
class Listed(Generic[T]):
    """Up to ``ROWS`` rows, newest first, and how many there are in all."""

    rows: list[T]
    total: int


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """One service (scheduler, triggerer) by its latest heartbeat."""

    name: str
    status: str  # healthy, unhealthy or "not seen"
    job: JobRecord | None


@dataclass(frozen=True, slots=True)
class PoolUse:
    """A pool's slots and how many running and queued tries take."""

    name: str
    slots: int
    running: int
    queued: int

    @property
    def open(self) -> int:
        return max(self.slots - self.running - self.queued, 0)

    @property
    def used_percent(self) -> int:
        if self.slots <= 0:
            return 100 if self.running + self.queued else 0
        return min(100, round(100 * (self.running + self.queued) / self.slots))


@dataclass(frozen=True, slots=True)
class Overview:
    """The home page's facts at ``now`` for the window of ``hours`` before it."""

    now: datetime
    hours: int
    failed_runs: Listed[DagRunRecord]
    running_runs: Listed[DagRunRecord]
    queued_runs: int
    failed_instances: Listed[TaskInstanceRecord]
    retrying_instances: Listed[TaskInstanceRecord]
    running_instances: Listed[TaskInstanceRecord]
    import_errors: list[ImportErrorRecord]
    services: list[ServiceHealth]
    pools: list[PoolUse]
    failed_task_of_run: dict[tuple[str, str], TaskInstanceRecord] = field(default_factory=dict)

    @property
    def since(self) -> datetime:
        return self.now - timedelta(hours=self.hours)


def service_health(name: str, job: JobRecord | None, now: datetime,
                   threshold: timedelta) -> ServiceHealth:
    """Healthy while the latest heartbeat is at most ``threshold`` old."""
    if job is None:
        return ServiceHealth(name, "not seen", None)
    healthy = now - job.latest_heartbeat <= threshold
    return ServiceHealth(name, "healthy" if healthy else "unhealthy", job)


def pool_use(store: Store) -> list[PoolUse]:
    """Every pool with the slots its running and queued tries take."""
    taken = store.overview.pool_slots_taken()
    return [PoolUse(name, slots, taken.get((name, TaskState.RUNNING), 0),
                    taken.get((name, TaskState.QUEUED), 0))
            for name, slots, _ in store.pools.list()]


def overview(store: Store, now: datetime, hours: int, health_threshold: timedelta,
             rows: int = ROWS) -> Overview:
    """The overview of the ``hours`` before ``now``, read in one transaction."""
    since = now - timedelta(hours=hours)
    with store.transaction():
        failed_runs = Listed(*store.overview.runs(DagRunState.FAILED, since, rows))
        running_runs = Listed(*store.overview.runs(DagRunState.RUNNING, None, rows))
        queued_runs = store.overview.runs(DagRunState.QUEUED, None, 0)[1]
        failed = Listed(*store.overview.task_instances(TaskState.FAILED, since, rows))
        retrying = Listed(*store.overview.task_instances(TaskState.UP_FOR_RETRY, None, rows))
        running = Listed(*store.overview.task_instances(TaskState.RUNNING, None, rows))
        errors = store.import_errors.list()
        services = [service_health(name, store.jobs.latest(name), now, health_threshold)
                    for name in ("scheduler", "triggerer")]
        pools = pool_use(store)
    first_failed: dict[tuple[str, str], TaskInstanceRecord] = {}
    for ti in reversed(failed.rows):  # the first to fail of each run wins
        first_failed.setdefault((ti.dag_id, ti.run_id), ti)
    return Overview(now, hours, failed_runs, running_runs, queued_runs, failed, retrying,
                    running, sorted(errors, key=lambda e: e.timestamp, reverse=True),
                    services, pools, first_failed)


__all__ = ["DEFAULT_WINDOW_H", "WINDOWS_H", "Listed", "Overview", "PoolUse", "ServiceHealth",
           "overview", "pool_use", "service_health"]
