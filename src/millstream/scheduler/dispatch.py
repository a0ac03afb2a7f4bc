"""Choosing which scheduled task instances to queue, within pools and concurrency limits."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from millstream import observability
from millstream.model.states import TaskState
from millstream.store.records import DagRunRecord, TaskInstanceRecord, new_step_id

if TYPE_CHECKING:
    from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent
    from millstream.scheduler.dag_view import DagView
    from millstream.store.interfaces import Store

    Event = TaskStartedEvent | TaskFinishedEvent

log = logging.getLogger("millstream.scheduler")

ACTIVE_STATES = (TaskState.QUEUED, TaskState.RUNNING)
_LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass
class Occupancy:
    """Slots in use right now, per pool, per DAG and per task."""

    pool_slots: Counter[str]
    per_dag: Counter[str]
    per_task: Counter[tuple[str, str]]

    @classmethod
    def from_active(cls, active: Iterable[TaskInstanceRecord]) -> Occupancy:
        occupancy = cls(Counter(), Counter(), Counter())
        for ti in active:
            occupancy.take(ti)
        return occupancy

    def take(self, ti: TaskInstanceRecord) -> None:
        self.pool_slots[ti.pool] += ti.pool_slots
        self.per_dag[ti.dag_id] += 1
        self.per_task[(ti.dag_id, ti.task_id)] += 1


def choose_to_queue(
    store: Store,
    dags: Mapping[str, DagView],
    open_slots: int,
    active_runs: Mapping[tuple[str, str], DagRunRecord],
    warned_pools: set[str] | None = None,
    pool_sizes: dict[str, int | None] | None = None,
) -> list[TaskInstanceRecord] | None:
    """Scheduled instances of ``active_runs`` (by dag id and run id) to queue now, highest
    priority first, honouring every limit.

    Limits: the executor's free slots, each pool's size (by pool_slots), the DAG's
    max_active_tasks and each task's max_active_tis_per_dag. A missing pool is warned
    about once per name in ``warned_pools`` (kept by the caller across calls). The slots
    in use are read here, under the dispatch lock taken with them, so the limits hold
    across schedulers; None if another scheduler holds that lock. Pool sizes are read
    into ``pool_sizes`` (which a caller may keep across calls, as the scheduler does
    until its next poke).
    """
    warned_pools = set() if warned_pools is None else warned_pools
    if open_slots <= 0:
        return []
    # Windows of scheduled rows, not all of them: with thousands scheduled, reading every
    # row per handoff would dominate. Further windows are read only when the limits
    # (pools, max_active_tasks, paused DAGs) left free slots, so nothing starves.
    window = min(open_slots, 10_000) * 2 + 4
    view = store.task_instances.dispatch_view(ACTIVE_STATES, window)
    if view is None:
        return None
    in_use, batch = view
    occupancy = Occupancy.from_active(in_use)
    pool_sizes = {} if pool_sizes is None else pool_sizes
    chosen: list[TaskInstanceRecord] = []
    offset = 0
    while len(chosen) < open_slots:
        if offset:
            batch = store.task_instances.dispatchable(window, offset)
        candidates = [ti for ti in batch
                      if (ti.dag_id, ti.run_id) in active_runs and ti.dag_id in dags]
        for ti in _in_dispatch_order(active_runs, candidates):
            if len(chosen) >= open_slots:
                break
            if _fits(ti, dags[ti.dag_id], occupancy, store, pool_sizes, warned_pools):
                occupancy.take(ti)
                chosen.append(ti)
        if len(batch) < window:
            break
        offset += window
    return chosen


def _in_dispatch_order(
    runs: Mapping[tuple[str, str], DagRunRecord], candidates: list[TaskInstanceRecord]
) -> list[TaskInstanceRecord]:
    """Highest priority first; ties go to the earlier run (by logical date, as in Airflow),
    then by task and map index."""

    def logical_date(ti: TaskInstanceRecord) -> datetime:
        run = runs.get((ti.dag_id, ti.run_id))
        return run.logical_date if run is not None else _LATEST

    return sorted(candidates, key=lambda ti: (
        -ti.priority_weight, logical_date(ti), ti.run_id, ti.task_id, ti.map_index,
    ))


def _fits(
    ti: TaskInstanceRecord,
    dag: DagView,
    occupancy: Occupancy,
    store: Store,
    pool_sizes: dict[str, int | None],
    warned_pools: set[str],
) -> bool:
    """Whether one more instance fits its pool, its DAG's and its task's limits."""
    if ti.task_id not in dag.task_dict:  # left the DAG: align_run_with_dag removes it
        return False
    if ti.pool not in pool_sizes:
        pool_sizes[ti.pool] = store.pools.slots(ti.pool)
    size = pool_sizes[ti.pool]
    if size is None:
        if ti.pool not in warned_pools:
            log.warning("task %s waits for pool %r, which does not exist", ti.label, ti.pool)
            warned_pools.add(ti.pool)
        return False
    if occupancy.pool_slots[ti.pool] + ti.pool_slots > size:
        return False
    if occupancy.per_dag[ti.dag_id] >= dag.max_active_tasks:
        return False
    limit = dag.task_dict[ti.task_id].max_active_tis_per_dag
    return limit is None or occupancy.per_task[(ti.dag_id, ti.task_id)] < limit


def claim_for_queue(store: Store, ti: TaskInstanceRecord) -> TaskInstanceRecord | None:
    """scheduled -> queued with the try's number and a new step id; None if another
    scheduler claimed it first. A sensor's next poke, or a deferral's resumption,
    continues the same try; each step gets an id its outcome names (its process and
    heartbeats are its own: those of the step before would make liveness misjudge it)."""
    try_number = ti.try_number if ti.resuming else ti.try_number + 1
    claimed = store.task_instances.claim(
        ti, TaskState.SCHEDULED, TaskState.QUEUED, try_number=try_number,
        step_id=new_step_id(), pid=None, heartbeat_at=None,
    )
    if claimed is not None:  # ready since readiness scheduled it, or its retry came due
        observability.task_queued(claimed.key, claimed.try_number, ti.next_retry_at)
    return claimed


def observed(dags: Mapping[str, DagView], events: Iterable[Event]) -> list[Event]:
    """``events`` as a list, each seen once as it leaves the executor (latencies, task
    code's metrics, spans): a tick that rolls back applies them again, but drains them
    once. A try's end is counted as it is recorded (in the state recorded), after the
    commit: see :func:`~millstream.scheduler.events.apply_finished`."""
    found = list(events)
    for event in found:
        observability.task_event(dags.get(event.key.dag_id), event, count_end=False)
    return found
