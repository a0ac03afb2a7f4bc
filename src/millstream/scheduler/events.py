"""Applying executor events to the store: starts, outcomes, XComs, branch skips, retries."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from millstream.model.retry import next_retry_at
from millstream.model.states import TaskState
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent
from millstream.store.records import TaskInstanceKey, TaskTryRecord

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.scheduler")

SKIPPABLE_STATES = (TaskState.NONE, TaskState.SCHEDULED)


def apply_started(store: Store, event: TaskStartedEvent) -> None:
    """queued -> running, unless the instance moved on meanwhile (cleared, timed out)."""
    ti = store.task_instances.get(event.key)
    if ti is None or ti.try_number != event.try_number:
        return
    store.task_instances.claim(
        ti, TaskState.QUEUED, TaskState.RUNNING,
        start_date=event.start_date, hostname=event.hostname, pid=event.pid,
    )


def apply_finished(
    store: Store, dag: DAG, event: TaskFinishedEvent, started: TaskStartedEvent | None = None
) -> set[str]:
    """Record a try's outcome; returns the task ids whose readiness may have changed.

    ``started`` is the same try's start, when both arrived together (a short task): the
    instance then goes from queued to its outcome in one write.
    """
    ti = store.task_instances.get(event.key)
    if ti is None or ti.try_number != event.try_number or ti.state not in (
        TaskState.QUEUED, TaskState.RUNNING
    ):
        log.info("ignoring a stale outcome for %s try %d", event.key, event.try_number)
        return set()
    task = dag.task_dict.get(ti.task_id)
    if task is None:  # the task left the DAG while this try ran: record it, retry nothing
        outcome = TaskState.FAILED if event.state is TaskState.UP_FOR_RETRY else event.state
        store.task_instances.set_state(ti, outcome, end_date=event.end_date, error=event.error)
        return set()
    fields: dict[str, object] = {"end_date": event.end_date, "error": event.error}
    if ti.start_date is None:
        fields["start_date"] = event.start_date
    if event.state is TaskState.UP_FOR_RETRY:
        fields["next_retry_at"] = next_retry_at(
            event.end_date,
            try_number=event.try_number,
            base_delay=task.retry_delay or timedelta(0),
            exponential_backoff=task.retry_exponential_backoff,
            max_delay=task.max_retry_delay,
            jitter_key=f"{ti.dag_id}.{ti.task_id}.{ti.run_id}.{ti.map_index}",
        )
    if ti.state is TaskState.QUEUED:
        fields["start_date"] = started.start_date if started else event.start_date
        if started is not None:
            fields.update(hostname=started.hostname, pid=started.pid)
    if event.xcoms:
        store.xcoms.set_many(event.key, event.xcoms)
    store.task_instances.set_state(ti, event.state, **fields)
    store.task_instances.record_try(
        TaskTryRecord(event.key, event.try_number, event.state, ti.start_date, event.end_date,
                      event.error)
    )
    changed = set(task.downstream_task_ids)
    # Only a successful try's skips count: a branch that failed chose nothing.
    if event.skip_task_ids and event.state is TaskState.SUCCESS:
        changed |= skip_tasks(store, dag, event.key, event.skip_task_ids)
    return changed


def skip_tasks(
    store: Store, dag: DAG, source: TaskInstanceKey, task_ids: tuple[str, ...]
) -> set[str]:
    """Skip the named tasks of the run that have not started; returns their downstream ids."""
    wanted = set(task_ids)
    changed: set[str] = set()
    finished_at = store.task_instances.get(source)
    when = finished_at.end_date if finished_at else None
    for ti in store.task_instances.for_run(source.dag_id, source.run_id):
        if ti.task_id in wanted and ti.state in SKIPPABLE_STATES:
            store.task_instances.set_state(ti, TaskState.SKIPPED, start_date=when, end_date=when)
            changed |= dag.task_dict[ti.task_id].downstream_task_ids
    return changed
