"""Watching task tries that should be running: heartbeats, adopting outcomes, finding zombies.

A try is alive while the executor runs it, or (after a scheduler restart) while its
recorded process still exists on this host. A try that finished while no scheduler was
listening left its outcome in a result file, which is adopted. Any other try whose
heartbeat is older than the zombie timeout has vanished (kill -9, OOM, a lost machine)
and ends up_for_retry or failed per its retries.

A queued try with no recorded process may still be starting: the fork server of a
scheduler that died outlives it and starts what it was handed. Such a try is given back
to the dispatcher only once the zombie timeout has passed with no sign of it (no
result, and no sign that it started); given back earlier, it would run twice.

A continuing try (a sensor's next poke, a deferral's resumption) runs in steps under one
key and try number, so the result file found may be the previous step's: it is adopted
only when it names the step the instance is on (``step_id``). Another step's result
still on disk also shows that the queued step never started here, since the fork
server removes it before starting a step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from millstream import observability
from millstream.model.states import TaskState
from millstream.processes import process_exists
from millstream.runtime.events import TaskFinishedEvent, TaskWorkload
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.scheduler")

ResultReader = Callable[[TaskInstanceKey, int], TaskFinishedEvent | None]
TryStarted = Callable[[TaskInstanceKey, int], bool]
"""Whether a try has started on this host (for example: its log file exists)."""


def last_sign_of_life(ti: TaskInstanceRecord) -> datetime | None:
    """When the current try was last seen alive (its start or latest heartbeat), if ever.

    Moments no later than the instance's last end belong to an earlier try: a retry's
    instance keeps the previous try's heartbeat and start until its own are recorded.
    """
    moments = [m for m in (ti.heartbeat_at, ti.start_date)
               if m is not None and (ti.end_date is None or m > ti.end_date)]
    return max(moments, default=None)


def check_liveness(
    store: Store,
    running_here: Mapping[TaskInstanceKey, int],
    in_flight: Collection[TaskInstanceKey],
    hostname: str,
    now: datetime,
    zombie_timeout: timedelta,
    read_result: ResultReader,
    try_started: TryStarted | None = None,
) -> list[TaskFinishedEvent]:
    """Heartbeat live tries; return outcomes of tries that finished unseen or vanished.

    Queued tries that no executor holds and that never started are given back to the
    dispatcher (queued -> scheduled) instead of being counted as a failed try, once the
    zombie timeout has passed without a sign of them.
    """
    alive: list[TaskInstanceKey] = []
    outcomes: list[TaskFinishedEvent] = []
    for ti in store.task_instances.in_states([TaskState.QUEUED, TaskState.RUNNING]):
        key = ti.key
        if key in running_here or key in in_flight:
            alive.append(key)
            continue
        finished = read_result(key, ti.try_number)
        if finished is not None and finished.step_id == ti.step_id:
            log.info("adopting the outcome of %s try %d: %s", ti.label, ti.try_number,
                     finished.state.value)
            outcomes.append(finished)
            continue
        # Another step's result (or one of an earlier run under the same run id): while
        # it is on disk, the queued step has not started here.
        not_started = ti.state is TaskState.QUEUED and finished is not None
        if not_started:
            log.debug("%s try %d: the result on disk is another step's", ti.label,
                      ti.try_number)
        elif ti.pid is not None and ti.hostname == hostname and process_exists(ti.pid):
            alive.append(key)
            continue
        last_seen = last_sign_of_life(ti)
        if last_seen is None:  # nobody has seen this try yet: its clock starts now
            alive.append(key)
            continue
        if now - last_seen < zombie_timeout:
            continue
        if not_started or (ti.state is TaskState.QUEUED and ti.pid is None and not (
            try_started is not None and try_started(key, ti.try_number)
        )):
            log.info("%s was queued but never started: queueing it again", ti.label)
            store.task_instances.set_state(ti, TaskState.SCHEDULED,
                                           try_number=number_before_queued(ti))
            continue
        retry = ti.try_number <= ti.max_tries
        observability.zombie_found(ti.dag_id)
        log.warning("%s try %d vanished (no heartbeat for %s): %s", ti.label, ti.try_number,
                    zombie_timeout, "will retry" if retry else "failed")
        outcomes.append(TaskFinishedEvent(
            key=key,
            try_number=ti.try_number,
            state=TaskState.UP_FOR_RETRY if retry else TaskState.FAILED,
            start_date=ti.start_date or now,
            end_date=now,
            error=f"the task's process vanished: no heartbeat for "
                  f"{zombie_timeout.total_seconds():g} s",
            step_id=ti.step_id,
        ))
    if alive:
        store.task_instances.heartbeat(alive, now)
    return outcomes


def give_back_unstarted(store: Store, workloads: Iterable[TaskWorkload]) -> int:
    """Queued tries that this scheduler's executor dropped before starting them (it was
    stopping with prefetched workloads): scheduled again at once, as :func:`check_liveness`
    would only after the zombie timeout of the next start. A try the store has moved on
    from is left alone. Returns how many were given back."""
    given = 0
    for workload in workloads:
        ti = store.task_instances.get(workload.key)
        if ti is None or ti.state is not TaskState.QUEUED \
                or ti.try_number != workload.try_number or ti.step_id != workload.step_id:
            continue
        if store.task_instances.claim(ti, TaskState.QUEUED, TaskState.SCHEDULED,
                                      try_number=number_before_queued(ti)) is not None:
            given += 1
    return given


def number_before_queued(ti: TaskInstanceRecord) -> int:
    """The try number a queued instance that never started goes back to ``scheduled``
    with: a continuing try (next poke, resumed deferral) kept its number when queued."""
    return ti.try_number if ti.resuming else ti.try_number - 1
