"""Applying executor events to the store: starts, outcomes, XComs, branch skips, retries."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from millstream import observability
from millstream.model.retry import next_retry_at
from millstream.model.states import TaskState
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.scheduler.assets import record_outlet_events
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord, TaskTryRecord
from millstream.store.trigger_records import TaskRescheduleRecord

if TYPE_CHECKING:
    from millstream.scheduler.dag_view import DagView
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.scheduler")

SKIPPABLE_STATES = (TaskState.NONE, TaskState.SCHEDULED)
LATER_RUN_STATES = (TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE, TaskState.DEFERRED)
"""Outcomes that need the task to run again (a retry, a next poke, a resumption)."""


def apply_started(store: Store, event: TaskStartedEvent) -> None:
    """queued -> running, unless the instance moved on meanwhile (cleared, timed out)."""
    store.task_instances.mark_running(event.key, event.try_number, event.start_date,
                                      event.hostname, event.pid)


def apply_finished(
    store: Store, dag: DagView, event: TaskFinishedEvent, started: TaskStartedEvent | None = None,
    after_commit: list[Callable[[], None]] | None = None,
    read: dict[TaskInstanceKey, TaskInstanceRecord] | None = None,
    *, current: TaskInstanceRecord | None = None, pid: int | None = None,
    wrote: Callable[[TaskInstanceRecord], None] | None = None,
) -> set[str]:
    """Record a try's outcome; returns the task ids whose readiness may have changed.

    ``started`` is the same try's start, when both arrived together (a short task): the
    instance then goes from queued to its outcome in one write. With ``after_commit`` (the
    caller's list of what to do once its transaction commits), the try's end is counted
    there, in the state recorded (metrics).

    ``read``: instances read in this transaction (by
    :class:`~millstream.scheduler.tick_reads.TickReads`); the one used is taken out of
    it. ``wrote`` is told the instance as recorded, when the outcome ends the try.
    ``current`` is the instance as the caller has just read it in this transaction (with
    its row locked), to be used instead of reading it again; ``pid`` the try's process
    id, written with the outcome (a remote worker's, not yet recorded).

    An outcome of another try, or of another step of this try (a sensor's previous poke,
    the deferral now resuming), is stale and ignored.
    """
    ti = current if current is not None else (read.pop(event.key, None) if read else None)
    if ti is None:
        ti = store.task_instances.get(event.key)
    if ti is None or ti.try_number != event.try_number or ti.state not in (
        TaskState.QUEUED, TaskState.RUNNING
    ) or not of_current_step(event, ti):
        log.info("ignoring a stale outcome for %s try %d", event.key, event.try_number)
        return set()
    task = dag.task_dict.get(ti.task_id)
    if task is None:  # the task left the DAG while this try ran: record it, retry nothing
        outcome = TaskState.FAILED if event.state in LATER_RUN_STATES else event.state
        store.task_instances.set_state(ti, outcome, end_date=event.end_date, error=event.error)
        _count_end(after_commit, event, outcome)
        return set()
    fields: dict[str, object] = {"end_date": event.end_date, "error": event.error}
    if ti.start_date is None:
        fields["start_date"] = event.start_date
    if event.state is TaskState.UP_FOR_RETRY and event.retry_delay_s is not None:
        fields["next_retry_at"] = event.end_date + timedelta(seconds=event.retry_delay_s)
    elif event.state is TaskState.UP_FOR_RETRY:
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
    if pid is not None:
        fields["pid"] = pid
    if event.xcoms:
        store.xcoms.set_many(event.key, event.xcoms)
    if event.state in (TaskState.UP_FOR_RESCHEDULE, TaskState.DEFERRED):
        return suspend(store, ti, event, fields, after_commit)
    ti = store.task_instances.end_try(ti, event.state, **fields)
    if wrote is not None:
        wrote(ti)
    _count_end(after_commit, event, event.state)
    changed = set(task.downstream_task_ids)
    # Only a successful try's skips count: a branch that failed chose nothing.
    if event.skip_task_ids and event.state is TaskState.SUCCESS:
        changed |= skip_tasks(store, dag, event.key, event.skip_task_ids)
    if event.state is TaskState.SUCCESS and getattr(task, "outlets", None):
        record_outlet_events(store, task, event.key, event.end_date)  # with the outcome
    return changed


def _count_end(after_commit: list[Callable[[], None]] | None, event: TaskFinishedEvent,
               state: TaskState) -> None:
    """Count the try's end in the state recorded, once the transaction commits."""
    if after_commit is not None:
        after_commit.append(functools.partial(
            observability.try_ended, event.key.dag_id, event.key.task_id, state.value,
            event.start_date, event.end_date))


def stop_timed_out_try(executor: Any, ti: TaskInstanceRecord, now: datetime) -> None:
    """After the commit that failed ``ti`` (as it was) at its run's dagrun_timeout: stop
    its try, which counts as a failed try if it had started (the executor's report of it
    comes too late to be recorded)."""
    executor.terminate(ti.key)
    if ti.state in (TaskState.RUNNING, TaskState.DEFERRED):
        observability.try_ended(ti.dag_id, ti.task_id, TaskState.FAILED.value,
                                ti.start_date, now)


def of_current_step(event: TaskFinishedEvent, ti: TaskInstanceRecord) -> bool:
    """Whether ``event`` is the outcome of the step ``ti`` is on (an event naming no step
    comes from a worker of an earlier version, and is taken as the current step's)."""
    return event.step_id is None or event.step_id == ti.step_id


def suspend(
    store: Store, ti: TaskInstanceRecord, event: TaskFinishedEvent, fields: dict[str, object],
    after_commit: list[Callable[[], None]] | None = None,
) -> set[str]:
    """A try gave its slot back without ending: a sensor's poke found nothing (its next
    poke is recorded), or a task deferred (its trigger is stored for the triggerer).

    Nothing downstream changes, and no try is recorded in the history: the try goes on.
    """
    if event.state is TaskState.UP_FOR_RESCHEDULE and event.reschedule_date is not None:
        store.task_reschedules.add(TaskRescheduleRecord(
            event.key, event.try_number, event.start_date, event.end_date, event.reschedule_date
        ))
        store.task_instances.set_state(
            ti, TaskState.UP_FOR_RESCHEDULE, **fields, reschedule_date=event.reschedule_date,
            next_method=None, next_kwargs=None,
        )
        return set()
    deferral = event.deferral
    if event.state is TaskState.DEFERRED and deferral is not None:
        trigger_id = store.triggers.add(deferral.classpath, deferral.trigger_kwargs,
                                        event.end_date)
        store.task_instances.set_state(
            ti, TaskState.DEFERRED, **fields, trigger_id=trigger_id,
            trigger_timeout=deferral.timeout, next_method=deferral.next_method,
            next_kwargs=deferral.next_kwargs, reschedule_date=None,
        )
        return set()
    # An event from a worker of another version, missing what the suspension needs.
    log.error("%s reported %s without its details: failing it", ti.label, event.state.value)
    fields["error"] = f"the try ended {event.state.value} without its reschedule date or trigger"
    ti = store.task_instances.set_state(ti, TaskState.FAILED, **fields)
    _count_end(after_commit, event, TaskState.FAILED)
    store.task_instances.record_try(TaskTryRecord(
        event.key, event.try_number, TaskState.FAILED, ti.start_date, event.end_date,
        str(fields["error"]),
    ))
    return set()


def resumed_workload(store: Store, ti: TaskInstanceRecord, workload: TaskWorkload
                     ) -> TaskWorkload:
    """``workload`` for a try that continues: the deferral's resume method and kwargs, or
    a rescheduled sensor's first poke and how many pokes it gave back."""
    if ti.next_method is not None:
        return replace(workload, next_method=ti.next_method, next_kwargs=ti.next_kwargs or {})
    reschedules = store.task_reschedules.for_try(ti.key, workload.try_number)
    if not reschedules:
        return workload
    return replace(workload, first_start_date=reschedules[0].start_date,
                   reschedule_count=len(reschedules))


def skip_tasks(
    store: Store, dag: DagView, source: TaskInstanceKey, task_ids: tuple[str, ...]
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


def waiting_for_time(
    store: Store, states: Iterable[TaskState], now: datetime
) -> tuple[dict[tuple[str, str], list[TaskInstanceRecord]], datetime | None]:
    """Instances in ``states`` (retry, reschedule) whose moment has come, by run, and the
    earliest moment of those still waiting."""
    due: dict[tuple[str, str], list[TaskInstanceRecord]] = {}
    earliest: datetime | None = None
    for ti in store.task_instances.in_states(states):
        moment = (ti.reschedule_date if ti.state is TaskState.UP_FOR_RESCHEDULE
                  else ti.next_retry_at)
        if moment is None or moment <= now:
            due.setdefault((ti.dag_id, ti.run_id), []).append(ti)
        elif earliest is None or moment < earliest:
            earliest = moment
    return due, earliest
