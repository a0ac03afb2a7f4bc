"""Deciding which task instances of a run are ready, skipped or upstream-failed.

Only the tasks whose upstream changed are looked at (the "dirty" set), in topological
order, so one finished task costs work proportional to its downstream, not the DAG.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import weakref
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from millstream import observability
from millstream.model.setup_teardown import SetupCounts, indirect_setups, setup_constraint
from millstream.model.states import TaskState
from millstream.model.trigger_rules import Decision, UpstreamCounts, evaluate
from millstream.runtime.xcom import decode_xcom
from millstream.scheduler.dag_view import DagView, TaskView
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.scheduler")

PAST_OK_STATES = frozenset({TaskState.SUCCESS, TaskState.SKIPPED})
_TOPOLOGICAL_INDEX: weakref.WeakKeyDictionary[DagView, dict[str, int]] = (
    weakref.WeakKeyDictionary()
)


_PAST_DEPENDENTS: weakref.WeakKeyDictionary[DagView, dict[str, set[str]]] = (
    weakref.WeakKeyDictionary()
)


def past_dependents(dag: DagView) -> dict[str, set[str]]:
    """Task id -> the tasks whose depends_on_past looks at it (the task itself, or its
    upstream with wait_for_downstream); worked out once per DAG version."""
    cached = _PAST_DEPENDENTS.get(dag)
    if cached is None:
        cached = {}
        for task in dag.tasks:
            if task.depends_on_past:
                cached.setdefault(task.task_id, set()).add(task.task_id)
            if task.wait_for_downstream:
                for down in task.downstream_task_ids:
                    cached.setdefault(down, set()).add(task.task_id)
        _PAST_DEPENDENTS[dag] = cached
    return cached


def topological_index(dag: DagView) -> dict[str, int]:
    """Position of each task in a topological order (worked out once per DAG version)."""
    cached = _TOPOLOGICAL_INDEX.get(dag)
    if cached is None:
        cached = {t.task_id: i for i, t in enumerate(dag.topological_sort())}
        _TOPOLOGICAL_INDEX[dag] = cached
    return cached


def evaluate_dirty(
    store: Store,
    dag: DagView,
    run: DagRunRecord,
    dirty: Iterable[str],
    now: datetime,
    known: dict[str, list[TaskInstanceRecord]] | None = None,
) -> bool:
    """Move instances of the dirty tasks (and what that cascades to) out of state none.

    Only the instances of the tasks looked at and of their upstream tasks are read, but
    for the tasks in ``known``: every instance of each, as read in this transaction
    (the lists are taken over and changed).
    Returns whether it left or put an instance in an unfinished state (waiting, or
    scheduled): then the run has not ended, and nobody needs to ask the store.
    """
    unfinished = False
    by_task: dict[str, list[TaskInstanceRecord]] = known if known is not None else {}

    def load(task_ids: Iterable[str]) -> None:
        missing = [t for t in task_ids if t not in by_task]
        if not missing:
            return
        for task_id in missing:
            by_task[task_id] = []
        for ti in store.task_instances.for_run(run.dag_id, run.run_id, missing):
            by_task[ti.task_id].append(ti)

    dirty = set(dirty)
    load({up for t in dirty if t in dag.task_dict
          for up in dag.task_dict[t].upstream_task_ids} | dirty)
    order = topological_index(dag)
    heap = [(order[t], t) for t in dirty if t in order]
    heapq.heapify(heap)
    seen: set[str] = set()
    while heap:
        _, task_id = heapq.heappop(heap)
        if task_id in seen:
            continue
        seen.add(task_id)
        task = dag.task_dict[task_id]
        load([task_id, *task.upstream_task_ids])
        waiting = [ti for ti in by_task[task_id] if ti.state is TaskState.NONE]
        if not waiting:
            continue
        counts = UpstreamCounts.from_states(
            ti.state for up in task.upstream_task_ids for ti in by_task[up]
        )
        if task.is_teardown:
            counts = _with_setup_counts(dag, task, counts, by_task)
        decision = evaluate(task.trigger_rule, counts)
        indirect = _indirect_setups(dag).get(task_id)
        if indirect:
            load(indirect)
            imposed = setup_constraint(_setup_counts(by_task, indirect))
            if imposed is Decision.WAIT:
                unfinished = True
                continue
            decision = imposed or decision
        if decision is Decision.WAIT or (
            decision is Decision.RUN and not _past_allows(store, dag, run, task_id)
        ):
            unfinished = True
            continue
        if decision is Decision.RUN and task.is_mapped and (
            waiting[0].map_index == -1
        ):
            by_task[task_id] = _expand(store, dag, task, run, waiting[0], now)
            waiting = [ti for ti in by_task[task_id] if ti.state is TaskState.NONE]
            if not waiting:  # expanded to nothing, or failed to expand
                _push_downstream(heap, task.downstream_task_ids, order)
                continue
        new_state = {
            Decision.RUN: TaskState.SCHEDULED,
            Decision.SKIP: TaskState.SKIPPED,
            Decision.UPSTREAM_FAILED: TaskState.UPSTREAM_FAILED,
        }[decision]
        changed: dict[TaskInstanceKey, TaskInstanceRecord] = {}
        for ti in waiting:
            if new_state is TaskState.SCHEDULED:
                changed[ti.key] = store.task_instances.set_state(ti, new_state)
                observability.task_scheduled(ti.key, now)
            else:
                changed[ti.key] = store.task_instances.set_state(
                    ti, new_state, start_date=now, end_date=now
                )
        # Downstream tasks count these instances' states: they see the changed records.
        by_task[task_id] = [changed.get(ti.key, ti) for ti in by_task[task_id]]
        if new_state is not TaskState.SCHEDULED:
            _push_downstream(heap, task.downstream_task_ids, order)
        else:
            unfinished = True
    return unfinished


_INDIRECT: weakref.WeakKeyDictionary[DagView, dict[str, list[str]]] = (
    weakref.WeakKeyDictionary()
)


def _indirect_setups(dag: DagView) -> dict[str, list[str]]:
    """Each task's indirect setups (worked out once per DAG version; empty without setups)."""
    cached = _INDIRECT.get(dag)
    if cached is None:
        cached = {}
        if any(t.is_setup for t in dag.tasks):
            for task_id in dag.task_dict:
                found = indirect_setups(dag.task_dict, task_id)
                if found:
                    cached[task_id] = found
        _INDIRECT[dag] = cached
    return cached


def _setup_counts(by_task: dict[str, list[TaskInstanceRecord]],
                  setups: Iterable[str]) -> SetupCounts:
    states = [ti.state for setup in setups for ti in by_task[setup]
              if ti.state is not TaskState.REMOVED]
    return SetupCounts(
        total=len(states),
        success=states.count(TaskState.SUCCESS),
        skipped=states.count(TaskState.SKIPPED),
        failed=sum(s in (TaskState.FAILED, TaskState.UPSTREAM_FAILED) for s in states),
    )


def _with_setup_counts(dag: DagView, task: TaskView, counts: UpstreamCounts,
                       by_task: dict[str, list[TaskInstanceRecord]]) -> UpstreamCounts:
    """A teardown's upstream counts with those of its direct setups filled in."""
    setups = _setup_counts(by_task, [u for u in task.upstream_task_ids
                                     if dag.task_dict[u].is_setup])
    return dataclasses.replace(counts, setup_total=setups.total,
                               setup_success=setups.success, setup_skipped=setups.skipped)


def _push_downstream(heap: list[tuple[int, str]], task_ids: Iterable[str],
                     order: dict[str, int]) -> None:
    for down in task_ids:
        heapq.heappush(heap, (order[down], down))


def _past_allows(store: Store, dag: DagView, run: DagRunRecord, task_id: str) -> bool:
    """depends_on_past: the same task in the previous run must have succeeded or been skipped."""
    task = dag.task_dict[task_id]
    if not task.depends_on_past:
        return True
    previous = store.runs.previous(run.dag_id, run.logical_date)
    if previous is None:
        return True
    earlier = [
        ti for ti in store.task_instances.for_run(previous.dag_id, previous.run_id)
        if ti.task_id == task_id
    ]
    if not all(ti.state in PAST_OK_STATES for ti in earlier):
        return False
    if task.wait_for_downstream:
        downstream = task.downstream_task_ids
        return all(
            ti.state in PAST_OK_STATES
            for ti in store.task_instances.for_run(previous.dag_id, previous.run_id)
            if ti.task_id in downstream
        )
    return True


def _expand(
    store: Store,
    dag: DagView,
    task: TaskView,
    run: DagRunRecord,
    placeholder: TaskInstanceRecord,
    now: datetime,
) -> list[TaskInstanceRecord]:
    """Create the mapped instances; zero elements skip the task, bad input fails it."""
    def value_of(task_id: str, key: str) -> Any:
        try:
            return _resolved_upstream_value(store, run, dag.task_dict[task_id], key)
        except ValueError as exc:
            raise ValueError(f"task {task.task_id!r}: cannot expand: {exc}") from None

    try:
        count = 1
        for name, source in task.expansion_sources().items():
            count *= source.count(value_of, name, task.task_id)
    except (TypeError, ValueError) as exc:
        log.error("cannot expand task %s: %s", task.task_id, exc)
        return [store.task_instances.set_state(
            placeholder, TaskState.FAILED, start_date=now, end_date=now, error=str(exc)
        )]
    if count == 0:
        return [store.task_instances.set_state(
            placeholder, TaskState.SKIPPED, start_date=now, end_date=now
        )]
    return store.task_instances.expand(placeholder, count)


def _resolved_upstream_value(store: Store, run: DagRunRecord, upstream: TaskView,
                             key: str) -> Any:
    task_id = upstream.task_id
    if upstream.is_mapped:
        texts = store.xcoms.get_mapped_xcoms(run.dag_id, run.run_id, task_id, key)
        return [decode_xcom(t) for t in texts]
    text = store.xcoms.get_xcom(run.dag_id, run.run_id, task_id, -1, key)
    if text is None:
        raise ValueError(f"upstream task {task_id!r} pushed no XCom {key!r} to expand over")
    return decode_xcom(text)
