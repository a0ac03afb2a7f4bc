"""User actions on the store (trigger, clear, mark, pause, pools), each one audited transaction.

The CLI and the REST API call these functions; each one is a single transaction that makes
its state changes through the checked transitions of :mod:`millstream.model.states` and
adds an :class:`~millstream.store.records.AuditRecord` naming who did it. Nothing here
knows how a DAG is written or scheduled: the callers pass what the action needs (the new
run's records, or the task graph as any object shaped like :class:`TaskGraph`).

Errors: an unknown DAG, run, task instance or pool is a ``KeyError``; a request that
cannot be carried out (a bad pattern, a state the table does not allow, a run that
already exists) is a ``ValueError``. Either way nothing is changed.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from millstream.model.states import (
    FINISHED_RUN_STATES,
    FINISHED_TASK_STATES,
    DagRunState,
    TaskState,
)
from millstream.store.interfaces import Store
from millstream.store.records import (
    AuditRecord,
    DagRecord,
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    new_step_id,
)

DEFAULT_POOL = "default_pool"

FAILED_TASK_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
"""What ``only_failed`` clears, as in Airflow: failures and the tasks they blocked."""

RUNNABLE_TASK_STATES = frozenset({TaskState.NONE, TaskState.SCHEDULED, TaskState.UP_FOR_RETRY})
"""States from which a user may start a try by hand (``millstream tasks run``)."""

MARKABLE_TASK_STATES = frozenset({TaskState.SUCCESS, TaskState.FAILED})
MARKABLE_RUN_STATES = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})


class TaskNode(Protocol):
    """What the actions need of one task of a DAG's structure."""

    @property
    def downstream_task_ids(self) -> AbstractSet[str]: ...

    @property
    def retries(self) -> int: ...


class TaskGraph(Protocol):
    """What the actions need of a DAG's structure (a ``DagStructure`` or a ``DAG``)."""

    @property
    def task_dict(self) -> Mapping[str, TaskNode]: ...


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create, with its initial task instances."""

    run: DagRunRecord
    instances: tuple[TaskInstanceRecord, ...]


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """The runs a backfill created, and those whose logical date already had a run."""

    created: list[DagRunRecord]
    existing: list[DagRunRecord]


@dataclass(frozen=True, slots=True)
class ClearResult:
    """The task instances a clear reset to ``none``, and the runs it queued again."""

    cleared: list[TaskInstanceRecord] = field(default_factory=list)
    requeued: list[DagRunRecord] = field(default_factory=list)


def current_user() -> str:
    """The operating-system user running this process, for audit records."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"


def audit(
    store: Store, event: str, who: str, now: datetime, *, dag_id: str | None = None,
    run_id: str | None = None, task_id: str | None = None, **extra: Any,
) -> None:
    """Add one audit record (joins the caller's transaction, if any)."""
    store.audit.add(AuditRecord(now, who, event, dag_id, run_id, task_id, dict(extra)))


def require_dag(store: Store, dag_id: str) -> DagRecord:
    """The DAG's record, or a KeyError saying the store does not know it."""
    record = store.dags.get(dag_id)
    if record is None:
        raise KeyError(
            f"no DAG {dag_id!r} in the store (is its file in the dags folder, and has the "
            "scheduler parsed it?)"
        )
    return record


def require_run(store: Store, dag_id: str, run_id: str) -> DagRunRecord:
    """The run, or a KeyError naming it."""
    run = store.runs.get(dag_id, run_id)
    if run is None:
        raise KeyError(f"DAG {dag_id!r} has no run {run_id!r}")
    return run


# -- pause -------------------------------------------------------------------------------------
def set_paused(store: Store, dag_id: str, paused: bool, who: str, now: datetime) -> bool:
    """Pause or unpause a DAG; returns False (and records nothing) if it already was so."""
    with store.transaction():
        record = require_dag(store, dag_id)
        if record.is_paused == paused:
            return False
        store.dags.set_paused(dag_id, paused)
        audit(store, "pause" if paused else "unpause", who, now, dag_id=dag_id)
    return True


# -- trigger and backfill ----------------------------------------------------------------------
def trigger(store: Store, new: NewRun, who: str, now: datetime) -> DagRunRecord:
    """Add a queued run and its task instances; a run id or logical date already taken is a
    ValueError."""
    run = new.run
    with store.transaction():
        require_dag(store, run.dag_id)
        if store.runs.get(run.dag_id, run.run_id) is not None:
            raise ValueError(f"DAG {run.dag_id!r} already has a run {run.run_id!r}")
        existing = store.runs.find(run.dag_id, run.logical_date)
        if existing is not None:
            raise ValueError(
                f"DAG {run.dag_id!r} already has a run for logical date "
                f"{run.logical_date.isoformat()}: {existing.run_id!r}"
            )
        store.runs.add(run)
        store.task_instances.add_many(new.instances)
        audit(store, "trigger", who, now, dag_id=run.dag_id, run_id=run.run_id,
              run_type=run.run_type, logical_date=run.logical_date.isoformat(), conf=run.conf)
    return run


def backfill(store: Store, dag_id: str, planned: Sequence[NewRun], who: str,
             now: datetime) -> BackfillResult:
    """Add the planned runs whose logical date has no run yet; the others are left alone.

    Repeating a backfill therefore creates nothing new.
    """
    created: list[DagRunRecord] = []
    existing: list[DagRunRecord] = []
    with store.transaction():
        require_dag(store, dag_id)
        for new in planned:
            if new.run.dag_id != dag_id:
                raise ValueError(f"a backfill of DAG {dag_id!r} got a run of {new.run.dag_id!r}")
            found = store.runs.find(dag_id, new.run.logical_date)
            if found is None:
                found = store.runs.get(dag_id, new.run.run_id)
            if found is not None:
                existing.append(found)
                continue
            store.runs.add(new.run)
            store.task_instances.add_many(new.instances)
            created.append(new.run)
        if created:
            audit(store, "backfill", who, now, dag_id=dag_id, runs=len(created),
                  first=created[0].logical_date.isoformat(),
                  last=created[-1].logical_date.isoformat())
    return BackfillResult(created, existing)


# -- clear -------------------------------------------------------------------------------------
def select_tasks(graph: TaskGraph, pattern: str | None = None, downstream: bool = False,
                 upstream: bool = False) -> set[str]:
    """Task ids matching ``pattern`` (``re.search``; all tasks when None), with their
    downstream and/or upstream tasks when asked."""
    tasks = graph.task_dict
    if pattern is None:
        chosen = set(tasks)
    else:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad task regex {pattern!r}: {exc}") from None
        chosen = {task_id for task_id in tasks if regex.search(task_id)}
    if downstream:
        chosen |= _reachable(chosen, {t: set(n.downstream_task_ids) for t, n in tasks.items()})
    if upstream:
        ups: dict[str, set[str]] = {t: set() for t in tasks}
        for task_id, node in tasks.items():
            for down in node.downstream_task_ids:
                ups.setdefault(down, set()).add(task_id)
        chosen |= _reachable(chosen, ups)
    return chosen


def _reachable(start: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    found: set[str] = set()
    frontier = list(start)
    while frontier:
        for nxt in edges.get(frontier.pop(), set()):
            if nxt not in found:
                found.add(nxt)
                frontier.append(nxt)
    return found


def clearable(store: Store, dag_id: str, run_ids: Iterable[str], task_ids: AbstractSet[str],
              only_failed: bool = False) -> list[TaskInstanceRecord]:
    """The finished instances of these tasks in these runs that a clear would reset."""
    states = FAILED_TASK_STATES if only_failed else FINISHED_TASK_STATES
    found: list[TaskInstanceRecord] = []
    for run_id in run_ids:
        found.extend(
            ti for ti in store.task_instances.for_run(dag_id, run_id)
            if ti.task_id in task_ids and ti.state in states
        )
    return found


def clear(store: Store, graph: TaskGraph, dag_id: str, run_ids: Iterable[str],
          task_ids: AbstractSet[str], who: str, now: datetime,
          only_failed: bool = False) -> ClearResult:
    """Reset the matching finished instances to ``none`` so that they run again.

    Each cleared instance loses its XComs and gets its retries back (as in Airflow, the
    next try may be followed by ``retries`` more); a run that had finished goes back to
    ``queued`` so that a scheduler starts it again. Unfinished instances are left alone.
    """
    run_ids = list(run_ids)
    with store.transaction():
        require_dag(store, dag_id)
        runs = [require_run(store, dag_id, run_id) for run_id in run_ids]
        cleared = clearable(store, dag_id, run_ids, task_ids, only_failed)
        for ti in cleared:
            node = graph.task_dict.get(ti.task_id)
            retries = node.retries if node is not None else max(ti.max_tries - ti.try_number, 0)
            store.task_instances.set_state(
                ti, TaskState.NONE, max_tries=ti.try_number + retries, start_date=None,
                end_date=None, next_retry_at=None, error=None, hostname=None, pid=None,
                heartbeat_at=None,
            )
            store.xcoms.clear(ti.key)
        touched = {ti.run_id for ti in cleared}
        requeued: list[DagRunRecord] = []
        for run in runs:
            if run.run_id in touched and run.state in FINISHED_RUN_STATES:
                store.runs.set_state(run, DagRunState.QUEUED, queued_at=now, end_date=None)
                requeued.append(run)
        for run_id in sorted(touched):
            audit(store, "clear", who, now, dag_id=dag_id, run_id=run_id,
                  tasks=sorted({ti.label for ti in cleared if ti.run_id == run_id}),
                  only_failed=only_failed)
    return ClearResult(cleared, requeued)


# -- mark --------------------------------------------------------------------------------------
def mark_task(store: Store, key: TaskInstanceKey, state: TaskState | str, who: str,
              now: datetime) -> TaskInstanceRecord:
    """Force a task instance to success or failed without running it."""
    target = TaskState(state)
    if target not in MARKABLE_TASK_STATES:
        raise ValueError(f"a task can be marked success or failed, not {target.value!r}")
    with store.transaction():
        ti = store.task_instances.get(key)
        if ti is None:
            raise KeyError(f"no task instance {_label(key)!r} in run {key.run_id!r} of DAG "
                           f"{key.dag_id!r}")
        store.task_instances.set_state(ti, target, end_date=now)
        audit(store, f"mark_{target.value}", who, now, dag_id=key.dag_id, run_id=key.run_id,
              task_id=key.task_id, map_index=key.map_index)
    return ti


def mark_run(store: Store, dag_id: str, run_id: str, state: DagRunState | str, who: str,
             now: datetime) -> DagRunRecord:
    """Force a run to success or failed; its unfinished instances end as the run did
    (success), or are failed if started and skipped if not (failed)."""
    target = DagRunState(state)
    if target not in MARKABLE_RUN_STATES:
        raise ValueError(f"a run can be marked success or failed, not {target.value!r}")
    with store.transaction():
        run = require_run(store, dag_id, run_id)
        for ti in store.task_instances.for_run(dag_id, run_id):
            if ti.state in FINISHED_TASK_STATES:
                continue
            if target is DagRunState.SUCCESS:
                new = TaskState.SUCCESS
            elif ti.state in (TaskState.QUEUED, TaskState.RUNNING, TaskState.DEFERRED):
                new = TaskState.FAILED
            else:
                new = TaskState.SKIPPED
            store.task_instances.set_state(ti, new, end_date=now)
        store.runs.set_state(run, target, end_date=now)
        audit(store, f"mark_run_{target.value}", who, now, dag_id=dag_id, run_id=run_id)
    return run


# -- delete ------------------------------------------------------------------------------------
BUSY_TASK_STATES = frozenset({TaskState.QUEUED, TaskState.RUNNING, TaskState.DEFERRED})
"""States of a task whose try is under way: a run holding one is not deleted."""


def delete_run(store: Store, dag_id: str, run_id: str, who: str, now: datetime) -> DagRunRecord:
    """Remove a run with its task instances, tries and XComs.

    A run with a try under way is a ValueError (mark it failed first), so no worker
    reports the end of a try whose record is gone.
    """
    with store.transaction():
        run = require_run(store, dag_id, run_id)
        busy = sorted(ti.label for ti in store.task_instances.for_run(dag_id, run_id)
                      if ti.state in BUSY_TASK_STATES)
        if busy:
            raise ValueError(
                f"run {run_id!r} of DAG {dag_id!r} has tasks under way ({', '.join(busy)}): "
                "mark the run failed first, then delete it"
            )
        store.runs.delete(dag_id, run_id)
        audit(store, "delete_run", who, now, dag_id=dag_id, run_id=run_id,
              logical_date=run.logical_date.isoformat(), state=run.state.value)
    return run


# -- running one try by hand -------------------------------------------------------------------
def claim_for_manual_try(store: Store, key: TaskInstanceKey, who: str, now: datetime,
                         force: bool = False) -> TaskInstanceRecord:
    """Take a task instance to ``queued`` with its next try number, for a try run by hand.

    The instance must be runnable (none, scheduled or up_for_retry); with ``force`` a
    finished one is cleared first. The last step is the same compare-and-set a scheduler
    makes, so a try is never started twice.
    """
    with store.transaction():
        ti = store.task_instances.get(key)
        if ti is None:
            raise KeyError(f"no task instance {_label(key)!r} in run {key.run_id!r} of DAG "
                           f"{key.dag_id!r}")
        if force and ti.state in FINISHED_TASK_STATES:
            store.task_instances.set_state(ti, TaskState.NONE, end_date=None, error=None,
                                           next_retry_at=None)
        if ti.state not in RUNNABLE_TASK_STATES:
            hint = " (use --force to run a finished task again)" \
                if ti.state in FINISHED_TASK_STATES else ""
            raise ValueError(
                f"task {ti.label!r} of run {key.run_id!r} is {ti.state.value}, not none, "
                f"scheduled or up_for_retry{hint}"
            )
        if ti.state is not TaskState.SCHEDULED:
            store.task_instances.set_state(ti, TaskState.SCHEDULED)
        if not store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                          try_number=ti.try_number + 1,
                                          step_id=new_step_id(), pid=None,
                                          heartbeat_at=None):
            raise ValueError(f"task {ti.label!r} of run {key.run_id!r} was taken by a scheduler")
        claimed = store.task_instances.get(key)
        assert claimed is not None
        audit(store, "run_task", who, now, dag_id=key.dag_id, run_id=key.run_id,
              task_id=key.task_id, map_index=key.map_index, try_number=claimed.try_number)
    return claimed


# -- pools -------------------------------------------------------------------------------------
def set_pool(store: Store, name: str, slots: int, who: str, now: datetime,
             description: str | None = None) -> None:
    """Create a pool or change its size; a description of None keeps the current one."""
    if not name.strip():
        raise ValueError("a pool needs a name")
    if slots < 0:
        raise ValueError(f"pool {name!r}: slots must be >= 0, got {slots}")
    with store.transaction():
        if description is None:
            current = {n: d for n, _, d in store.pools.list()}
            description = current.get(name, "")
        store.pools.set(name, slots, description)
        audit(store, "pool_set", who, now, pool=name, slots=slots, description=description)


def delete_pool(store: Store, name: str, who: str, now: datetime) -> None:
    """Remove a pool; ``default_pool`` cannot be removed."""
    if name == DEFAULT_POOL:
        raise ValueError(f"the default pool {DEFAULT_POOL!r} cannot be deleted")
    with store.transaction():
        if not store.pools.delete(name):
            raise KeyError(f"no pool {name!r}")
        audit(store, "pool_delete", who, now, pool=name)


def _label(key: TaskInstanceKey) -> str:
    return key.task_id if key.map_index < 0 else f"{key.task_id}[{key.map_index}]"
