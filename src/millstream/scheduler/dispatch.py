"""Choosing which scheduled task instances to queue, within pools and concurrency limits."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceRecord

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.store.interfaces import Store

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
    dags: Mapping[str, DAG],
    open_slots: int,
    is_run_active: Callable[[str, str], bool],
    warned_pools: set[str] | None = None,
) -> list[TaskInstanceRecord]:
    """Scheduled instances to queue now, highest priority first, honouring every limit.

    Limits: the executor's free slots, each pool's size (by pool_slots), the DAG's
    max_active_tasks and each task's max_active_tis_per_dag. A missing pool is warned
    about once per name in ``warned_pools`` (kept by the caller across calls).
    """
    warned_pools = set() if warned_pools is None else warned_pools
    if open_slots <= 0:
        return []
    scheduled = [
        # A window, not all of them: with thousands scheduled, reading every row per
        # handoff would dominate; limits that skip many in the window are rare.
        ti for ti in store.task_instances.dispatchable(min(open_slots, 10_000) * 4 + 16)
        if is_run_active(ti.dag_id, ti.run_id) and ti.dag_id in dags
    ]
    if not scheduled:
        return []
    # Ties go to the earlier run (by logical date, as in Airflow), then by task and map index.
    logical_dates: dict[tuple[str, str], datetime] = {}
    for ti in scheduled:
        if (ti.dag_id, ti.run_id) not in logical_dates:
            run = store.runs.get(ti.dag_id, ti.run_id)
            logical_dates[(ti.dag_id, ti.run_id)] = run.logical_date if run else _LATEST
    scheduled.sort(key=lambda ti: (-ti.priority_weight, logical_dates[(ti.dag_id, ti.run_id)],
                                   ti.run_id, ti.task_id, ti.map_index))
    occupancy = Occupancy.from_active(store.task_instances.in_states(ACTIVE_STATES))
    chosen: list[TaskInstanceRecord] = []
    for ti in scheduled:
        if len(chosen) >= open_slots:
            break
        dag = dags[ti.dag_id]
        size = store.pools.slots(ti.pool)
        if size is None:
            if ti.pool not in warned_pools:
                log.warning("task %s waits for pool %r, which does not exist", ti.label, ti.pool)
                warned_pools.add(ti.pool)
            continue
        if occupancy.pool_slots[ti.pool] + ti.pool_slots > size:
            continue
        if occupancy.per_dag[ti.dag_id] >= dag.max_active_tasks:
            continue
        limit = dag.task_dict[ti.task_id].max_active_tis_per_dag
        if limit is not None and occupancy.per_task[(ti.dag_id, ti.task_id)] >= limit:
            continue
        occupancy.take(ti)
        chosen.append(ti)
    return chosen
