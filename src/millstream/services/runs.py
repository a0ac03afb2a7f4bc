"""Deleting a run, and starting one try of a task by hand (``millstream tasks run``)."""

from __future__ import annotations

from datetime import datetime

from millstream.exceptions import ConflictError
from millstream.model.states import FINISHED_TASK_STATES, TaskState
from millstream.services.common import require_run, require_task_instance
from millstream.store.audit import record_action
from millstream.store.interfaces import Store
from millstream.store.records import (
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    new_step_id,
)

BUSY_TASK_STATES = frozenset({TaskState.QUEUED, TaskState.RUNNING, TaskState.DEFERRED})
"""States of a task whose try is under way: a run holding one is not deleted."""

RUNNABLE_TASK_STATES = frozenset({TaskState.NONE, TaskState.SCHEDULED, TaskState.UP_FOR_RETRY})
"""States from which a user may start a try by hand (``millstream tasks run``)."""


def delete_run(store: Store, dag_id: str, run_id: str, who: str, now: datetime) -> DagRunRecord:
    """Remove a run with its task instances, tries and XComs.

    A run with a try under way is a ConflictError (mark it failed first), so no worker
    reports the end of a try whose record is gone.
    """
    with store.transaction():
        run = require_run(store, dag_id, run_id)
        busy = sorted(ti.label for ti in store.task_instances.for_run(dag_id, run_id)
                      if ti.state in BUSY_TASK_STATES)
        if busy:
            raise ConflictError(
                f"run {run_id!r} of DAG {dag_id!r} has tasks under way ({', '.join(busy)}): "
                "mark the run failed first, then delete it"
            )
        store.runs.delete(dag_id, run_id)
        record_action(store, "delete_run", who, now, dag_id=dag_id, run_id=run_id,
                      logical_date=run.logical_date.isoformat(), state=run.state.value)
    return run


def claim_for_manual_try(store: Store, key: TaskInstanceKey, who: str, now: datetime,
                         force: bool = False) -> TaskInstanceRecord:
    """Take a task instance to ``queued`` with its next try number, for a try run by hand.

    The instance must be runnable (none, scheduled or up_for_retry); with ``force`` a
    finished one is cleared first. The last step is the same compare-and-set a scheduler
    makes, so a try is never started twice.
    """
    with store.transaction():
        ti = require_task_instance(store, key)
        if force and ti.state in FINISHED_TASK_STATES:
            store.task_instances.set_state(ti, TaskState.NONE, end_date=None, error=None,
                                           next_retry_at=None)
            ti = require_task_instance(store, key)
        if ti.state not in RUNNABLE_TASK_STATES:
            hint = " (use --force to run a finished task again)" \
                if ti.state in FINISHED_TASK_STATES else ""
            raise ConflictError(
                f"task {ti.label!r} of run {key.run_id!r} is {ti.state.value}, not none, "
                f"scheduled or up_for_retry{hint}"
            )
        if ti.state is not TaskState.SCHEDULED:
            store.task_instances.set_state(ti, TaskState.SCHEDULED)
            ti = require_task_instance(store, key)
        if not store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                          try_number=ti.try_number + 1,
                                          step_id=new_step_id(), pid=None,
                                          heartbeat_at=None):
            raise ConflictError(f"task {ti.label!r} of run {key.run_id!r} was taken by a "
                                "scheduler")
        claimed = require_task_instance(store, key)
        record_action(store, "run_task", who, now, dag_id=key.dag_id, run_id=key.run_id,
                      task_id=key.task_id, map_index=key.map_index,
                      try_number=claimed.try_number)
    return claimed
