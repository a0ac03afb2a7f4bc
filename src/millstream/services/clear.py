"""Clearing: reset finished task instances to ``none`` so a scheduler runs them again."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from millstream.exceptions import InvalidInputError
from millstream.model.intervals import ensure_utc
from millstream.model.setup_teardown import with_setups_and_teardowns
from millstream.model.states import (
    FINISHED_RUN_STATES,
    FINISHED_TASK_STATES,
    DagRunState,
    TaskState,
)
from millstream.services.common import require_dag, require_run, require_structure
from millstream.services.inputs import compile_pattern
from millstream.store.audit import record_action
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord

log = logging.getLogger("millstream.services")

FAILED_TASK_STATES = frozenset({TaskState.FAILED, TaskState.UPSTREAM_FAILED})
"""What ``only_failed`` clears, as in Airflow: failures and the tasks they blocked."""


class TaskNode(Protocol):
    """What clearing needs of one task of a DAG's structure."""

    @property
    def upstream_task_ids(self) -> AbstractSet[str]: ...

    @property
    def downstream_task_ids(self) -> AbstractSet[str]: ...

    @property
    def retries(self) -> int: ...

    @property
    def is_setup(self) -> bool: ...

    @property
    def is_teardown(self) -> bool: ...

    @property
    def on_failure_fail_dagrun(self) -> bool: ...


class TaskGraph(Protocol):
    """What clearing needs of a DAG's structure (a ``DagStructure`` or a ``DAG``)."""

    @property
    def task_dict(self) -> Mapping[str, TaskNode]: ...


@dataclass(frozen=True, slots=True)
class ClearResult:
    """The task instances a clear reset to ``none``, and the runs it queued again."""

    cleared: list[TaskInstanceRecord] = field(default_factory=list)
    requeued: list[DagRunRecord] = field(default_factory=list)


def select_tasks(graph: TaskGraph, pattern: str | None = None, downstream: bool = False,
                 upstream: bool = False) -> set[str]:
    """Task ids matching ``pattern`` (``re.search``; all tasks when None), with their
    downstream and/or upstream tasks when asked; a bad pattern is an InvalidInputError.

    As in Airflow, the setups whose scope a chosen task is in come along, with their
    teardowns, so that the resource the task needs is set up and torn down again."""
    tasks = graph.task_dict
    if pattern is None:
        chosen = set(tasks)
    else:
        regex = compile_pattern(pattern)
        chosen = {task_id for task_id in tasks if regex.search(task_id)}
    if downstream:
        chosen |= _reachable(chosen, {t: set(n.downstream_task_ids) for t, n in tasks.items()})
    if upstream:
        ups: dict[str, set[str]] = {t: set() for t in tasks}
        for task_id, node in tasks.items():
            for down in node.downstream_task_ids:
                ups.setdefault(down, set()).add(task_id)
        chosen |= _reachable(chosen, ups)
    if any(node.is_setup or node.is_teardown for node in tasks.values()):
        chosen = with_setups_and_teardowns(tasks, chosen, upstream_included=upstream,
                                           downstream_included=downstream)
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
    with store.transaction():
        for run_id in run_ids:
            found.extend(
                ti for ti in store.task_instances.for_run(dag_id, run_id)
                if ti.task_id in task_ids and ti.state in states
            )
    return found


def clear(store: Store, graph: TaskGraph, dag_id: str, run_ids: Iterable[str],
          task_ids: AbstractSet[str], who: str, now: datetime,
          only_failed: bool = False, _depth: int = 10) -> ClearResult:
    """Reset the matching finished instances to ``none`` so that they run again.

    A cleared ExternalTaskMarker also clears the task it points at in the other DAG (and
    the tasks after it), through further markers at most ``recursion_depth`` DAGs deep.

    Each cleared instance loses its XComs and gets its retries back (as in Airflow, the
    next try may be followed by ``retries`` more); a run that had finished goes back to
    ``queued`` so that a scheduler starts it again. Unfinished instances are left alone.
    """
    run_ids = list(run_ids)
    with store.transaction():
        require_dag(store, dag_id)
        runs = [require_run(store, dag_id, run_id) for run_id in run_ids]
        found = clearable(store, dag_id, run_ids, task_ids, only_failed)
        for ti in found:
            node = graph.task_dict.get(ti.task_id)
            retries = node.retries if node is not None else max(ti.max_tries - ti.try_number, 0)
            store.task_instances.set_state(
                ti, TaskState.NONE, max_tries=ti.try_number + retries, start_date=None,
                end_date=None, next_retry_at=None, error=None, hostname=None, pid=None,
                heartbeat_at=None,
            )
            store.xcoms.clear(ti.key)
        touched = {ti.run_id for ti in found}
        requeued: list[DagRunRecord] = []
        for run in runs:
            if run.run_id in touched and run.state in FINISHED_RUN_STATES:
                store.runs.set_state(run, DagRunState.QUEUED, queued_at=now, end_date=None)
                requeued.append(require_run(store, dag_id, run.run_id))
        for run_id in sorted(touched):
            record_action(store, "clear", who, now, dag_id=dag_id, run_id=run_id,
                          tasks=sorted({ti.label for ti in found if ti.run_id == run_id}),
                          only_failed=only_failed)
        cleared = [store.task_instances.get(ti.key) or ti for ti in found]
    result = ClearResult(cleared, requeued)
    for ti in found:
        marker = getattr(graph.task_dict.get(ti.task_id), "external_marker", None)
        if marker and _depth > 0:
            run = next(r for r in runs if r.run_id == ti.run_id)
            depth = min(_depth, int(marker.get("recursion_depth", 10))) - 1
            _clear_marked(store, marker, run, who, now, only_failed, depth, result)
    return result


def _clear_marked(store: Store, marker: Mapping[str, Any], run: DagRunRecord, who: str,
                  now: datetime, only_failed: bool, depth: int, result: ClearResult) -> None:
    """Clear what an ExternalTaskMarker points at: its task and the tasks after it, in the
    other DAG's run at the marker's logical date (nothing when either is missing)."""
    dag_id, task_id = marker["dag_id"], marker["task_id"]
    if store.dags.structure(dag_id) is None:
        log.warning("ExternalTaskMarker: DAG %s has no stored structure; not cleared", dag_id)
        return
    structure = require_structure(store, dag_id)
    other = store.runs.find(dag_id, _marker_date(marker.get("logical_date"), run))
    if other is None or task_id not in structure.task_dict:
        log.info("ExternalTaskMarker: no run of %s at that date or no task %s", dag_id, task_id)
        return
    chosen = select_tasks(structure, f"^{re.escape(task_id)}$", downstream=True)
    more = clear(store, structure, dag_id, [other.run_id], chosen, who, now, only_failed,
                 _depth=depth)
    result.cleared.extend(more.cleared)
    result.requeued.extend(more.requeued)


def _marker_date(template: str | None, run: DagRunRecord) -> datetime:
    """The marker's logical date: its template rendered for ``run``, or ``run``'s own."""
    if not template:
        return run.logical_date
    import jinja2

    logical = run.logical_date
    text = jinja2.Environment(autoescape=False).from_string(template).render(
        logical_date=logical, ds=logical.strftime("%Y-%m-%d"), ts=logical.isoformat(),
        data_interval_start=run.data_interval_start, data_interval_end=run.data_interval_end,
    )
    try:
        return ensure_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise InvalidInputError(
            f"ExternalTaskMarker logical_date {template!r} rendered to {text!r}, which is "
            "not an ISO 8601 date-time"
        ) from None
