"""Creating DAG runs and their task instances, and deciding when a run has finished."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from millstream import observability
from millstream.exceptions import ConflictError
from millstream.model.intervals import DataInterval
from millstream.model.setup_teardown import effective_leaves
from millstream.model.states import FINISHED_TASK_STATES, DagRunState, TaskState
from millstream.scheduler.dag_view import DagView
from millstream.store.records import SCHEDULED_RUN, DagRunRecord, TaskInstanceRecord

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.scheduler")

FAILED_LEAF_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
_PRIORITY_WEIGHTS: weakref.WeakKeyDictionary[DagView, dict[str, int]] = (
    weakref.WeakKeyDictionary()
)


def make_run_id(run_type: str, logical_date: datetime) -> str:
    """Airflow-style run id: ``manual__2026-01-01T00:00:00+00:00``."""
    return f"{run_type}__{logical_date.isoformat()}"


def plan_run(
    dag: DagView,
    logical_date: datetime,
    interval: DataInterval,
    now: datetime,
    run_type: str = "manual",
    conf: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> tuple[DagRunRecord, list[TaskInstanceRecord]]:
    """A queued run and its task instances, not yet stored; bad conf raises first."""
    dag.resolve_params(conf)
    run = DagRunRecord(
        dag_id=dag.dag_id,
        run_id=run_id or make_run_id(run_type, logical_date),
        logical_date=logical_date,
        data_interval_start=interval.start,
        data_interval_end=interval.end,
        run_type=run_type,
        conf=dict(conf or {}),
        queued_at=now,
        dag_version=dag.version,
    )
    return run, task_instances_for(dag, run)


def create_run(
    store: Store,
    dag: DagView,
    logical_date: datetime,
    interval: DataInterval,
    now: datetime,
    run_type: str = "manual",
    conf: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> DagRunRecord:
    """A new queued run with one task instance per task (mapped tasks get a placeholder)."""
    run, instances = plan_run(dag, logical_date, interval, now, run_type, conf, run_id)
    store.runs.add(run)
    store.task_instances.add_many(instances)
    observability.run_created(run)
    return run


def create_due_runs(
    store: Store, dag: DagView, now: datetime, limit: int | None = None
) -> list[DagRunRecord]:
    """Create the scheduled runs that are due for one DAG (catchup, start and end dates).

    Never more than the DAG's free run slots (max_active_runs minus queued and running
    runs), nor more than ``limit``, so a long catchup is created a few runs at a time. A
    logical date that already has a run (e.g. a manual one) is passed over.
    """
    active = store.runs.list(dag.dag_id, [DagRunState.QUEUED, DagRunState.RUNNING])
    free = dag.max_active_runs - len(active)
    if limit is not None:
        free = min(free, limit)
    if free <= 0 or dag.start_date is None:
        return []
    created: list[DagRunRecord] = []
    last = last_scheduled_interval(store, dag.dag_id)
    while len(created) < free:
        due = dag.timetable.missed_intervals(
            last, dag.start_date, dag.end_date, dag.catchup, now, limit=free - len(created)
        )
        if not due:
            break
        for interval in due:
            last = interval
            if store.runs.find(dag.dag_id, interval.start) is not None:
                continue
            try:
                created.append(create_run(store, dag, interval.start, interval, now,
                                          SCHEDULED_RUN))
            except ConflictError:  # another scheduler created it a moment ago
                continue
    return created


WAITING_STATES = (TaskState.NONE, TaskState.SCHEDULED, TaskState.UP_FOR_RETRY,
                  TaskState.UP_FOR_RESCHEDULE)


def align_run_with_dag(store: Store, dag: DagView, run: DagRunRecord) -> int:
    """After the DAG changed: instances of tasks it no longer has end removed (unless a try
    is in flight), and tasks it gained get instances. Returns how many instances changed."""
    instances = store.task_instances.for_run(run.dag_id, run.run_id)
    present = {ti.task_id for ti in instances}
    changed = 0
    for ti in instances:
        if ti.task_id not in dag.task_dict and ti.state in WAITING_STATES:
            store.task_instances.set_state(ti, TaskState.REMOVED)
            changed += 1
    added = [ti for ti in task_instances_for(dag, run) if ti.task_id not in present]
    store.task_instances.add_many(added)
    return changed + len(added)


def last_scheduled_intervals(store: Store, dag_ids: Collection[str]) -> dict[str, DataInterval]:
    """The data interval of each DAG's latest scheduled run: where its schedule resumes.

    The scheduler and the UI's "next run" both read it here, so they agree; it is one
    indexed lookup per DAG, whatever the length of the DAG's history.
    """
    return {
        dag_id: DataInterval(run.data_interval_start, run.data_interval_end)
        for dag_id, run in store.runs.latest_scheduled(dag_ids).items()
    }


def last_scheduled_interval(store: Store, dag_id: str) -> DataInterval | None:
    """The resume point of one DAG (see :func:`last_scheduled_intervals`)."""
    return last_scheduled_intervals(store, (dag_id,)).get(dag_id)


def task_instances_for(dag: DagView, run: DagRunRecord) -> list[TaskInstanceRecord]:
    """The initial task instances of a run."""
    weights = priority_weights(dag)
    return [
        TaskInstanceRecord(
            dag_id=dag.dag_id,
            run_id=run.run_id,
            task_id=task.task_id,
            map_index=-1,
            max_tries=task.retries,
            pool=task.pool,
            pool_slots=task.pool_slots,
            queue=task.queue,
            priority_weight=weights[task.task_id],
        )
        for task in dag.tasks
    ]


def priority_weights(dag: DagView) -> dict[str, int]:
    """Effective priority of each task, per its weight_rule (downstream, upstream, absolute);
    worked out once per DAG version (a view does not change).

    A task's relatives are found as bit sets, each task's set the union of its neighbours'
    and their own, so the cost stays near linear in the number of edges even for a long
    chain, where walking every task's relatives would be quadratic."""
    cached = _PRIORITY_WEIGHTS.get(dag)
    if cached is not None:
        return cached
    ids = [task.task_id for task in dag.tasks]
    own = [dag.task_dict[task_id].priority_weight for task_id in ids]
    uniform = own[0] if own and all(weight == own[0] for weight in own) else None
    masks = {rule: _relative_masks(dag, ids, upstream=rule == "upstream")
             for rule in {task.weight_rule for task in dag.tasks} - {"absolute"}}
    weights: dict[str, int] = {}
    for index, task in enumerate(dag.tasks):
        if task.weight_rule == "absolute":
            weights[task.task_id] = task.priority_weight
            continue
        relatives = masks[task.weight_rule][index]
        if uniform is not None:
            extra = uniform * relatives.bit_count()
        else:
            extra = 0
            while relatives:
                lowest = relatives & -relatives
                extra += own[lowest.bit_length() - 1]
                relatives ^= lowest
        weights[task.task_id] = task.priority_weight + extra
    _PRIORITY_WEIGHTS[dag] = weights
    return weights


def _relative_masks(dag: DagView, ids: list[str], upstream: bool) -> list[int]:
    """For each task (in ``ids`` order), the bit set of every task above (``upstream``) or
    below it, bit ``i`` standing for ``ids[i]``."""
    position = {task_id: index for index, task_id in enumerate(ids)}
    neighbours = [
        [position[n] for n in (task.upstream_task_ids if upstream else task.downstream_task_ids)]
        for task in dag.tasks
    ]
    masks: list[int | None] = [None] * len(ids)
    for root in range(len(ids)):
        stack = [(root, False)]
        while stack:
            index, children_done = stack.pop()
            if masks[index] is not None:
                continue
            if children_done:
                mask = 0
                for child in neighbours[index]:
                    mask |= (1 << child) | (masks[child] or 0)
                masks[index] = mask
            else:
                stack.append((index, True))
                stack.extend((child, False) for child in neighbours[index]
                             if masks[child] is None)
    return [mask or 0 for mask in masks]


_LEAVES: weakref.WeakKeyDictionary[DagView, frozenset[str]] = weakref.WeakKeyDictionary()


def run_state_leaves(dag: DagView) -> frozenset[str]:
    """The tasks whose states decide the run's state (worked out once per DAG version)."""
    cached = _LEAVES.get(dag)
    if cached is None:
        cached = frozenset(effective_leaves(dag.task_dict))
        _LEAVES[dag] = cached
    return cached


def final_state(dag: DagView, instances: Iterable[TaskInstanceRecord]) -> DagRunState | None:
    """The run's end state once every instance has finished, else None.

    A run fails when any leaf task (one with no downstream) ended failed or
    upstream_failed; otherwise it succeeds. Teardown tasks do not count (unless
    ``on_failure_fail_dagrun``): the tasks they tear down after are the leaves then.
    """
    leaves = run_state_leaves(dag)
    leaf_failed = False
    for ti in instances:
        if ti.state not in FINISHED_TASK_STATES:
            return None
        if ti.state in FAILED_LEAF_STATES and ti.task_id in leaves:
            leaf_failed = True
    return DagRunState.FAILED if leaf_failed else DagRunState.SUCCESS


@dataclass(frozen=True, slots=True)
class RunHold:
    """What :func:`hold_run` found: the run as it is now (held by this transaction), or
    ``look_again`` when another transaction holds it, or ``ended_elsewhere``."""

    run: DagRunRecord
    look_again: bool = False
    ended_elsewhere: bool = False


def hold_run(store: Store, run: DagRunRecord,
             held: DagRunRecord | Literal[False] | None = False) -> RunHold:
    """Hold a running run's row before deciding what its ended tasks lead to.

    Two schedulers that each end one of the tasks another task waits for (or a run's
    last two tasks) would each count the other's task as unfinished: neither sees the
    other's write before it commits, so the waiting task would never be scheduled, or
    the run would stay running with every task ended. Holding the run (``store.runs.lock``)
    while evaluating its tasks and deciding its end settles it: of two such transactions,
    the second to get the run looks after the first committed. One that finds the run
    held does not wait: it keeps what it has to look at and looks again on a later tick.
    The run's end is then written as a compare-and-set from ``running``, so a run ends
    once, with one set of callbacks.
    """
    if held is False:  # not taken yet in this transaction (``held``: as it was taken)
        held = store.runs.lock(run.dag_id, run.run_id)
    if held is None:
        return RunHold(run, look_again=True)
    if held.state is not DagRunState.RUNNING:
        return RunHold(held, ended_elsewhere=True)
    return RunHold(held)


def run_end_state(store: Store, dag: DagView, run: DagRunRecord) -> DagRunState | None:
    """The state a run ends in now that every task has finished, or None while some has
    not (call it holding the run: :func:`hold_run`)."""
    if store.task_instances.has_unfinished(run.dag_id, run.run_id):
        return None
    leaves = list(run_state_leaves(dag))
    return final_state(dag, store.task_instances.for_run(run.dag_id, run.run_id, leaves))


def pause_after_failures(store: Store, dag: DagView, run: DagRunRecord) -> None:
    """Airflow's ``max_consecutive_failed_dag_runs``: once the DAG's latest runs (by
    logical date, ``run`` included) all failed, pause it."""
    limit = dag.max_consecutive_failed_dag_runs
    current: DagRunRecord | None = run
    for _ in range(limit - 1):
        assert current is not None
        current = store.runs.previous(dag.dag_id, current.logical_date)
        if current is None or current.state is not DagRunState.FAILED:
            return
    if store.dags.get(dag.dag_id) is None:
        return  # not a stored DAG (dag.test()): nothing to pause
    store.dags.set_paused(dag.dag_id, True)
    log.warning("DAG %s paused: its last %d run(s) failed (max_consecutive_failed_dag_runs)",
                dag.dag_id, limit)


def earliest_timeout(dags: Mapping[str, DagView], runs: Iterable[DagRunRecord]
                     ) -> datetime | None:
    """The earliest moment one of ``runs`` reaches its DAG's dagrun_timeout, if any."""
    moments = [run.start_date + dag.dagrun_timeout for run in runs
               if (dag := dags.get(run.dag_id)) is not None and dag.dagrun_timeout
               and run.start_date]
    return min(moments, default=None)
