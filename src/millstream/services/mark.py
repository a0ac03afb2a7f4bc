"""Marking: force a task instance or a whole run to success or failed without running it."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from millstream.exceptions import InvalidInputError
from millstream.model.states import FINISHED_TASK_STATES, DagRunState, TaskState
from millstream.services.common import require_run, require_task_instance
from millstream.services.inputs import parse_choice
from millstream.store.audit import record_action
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord

MARKABLE_TASK_STATES = frozenset({TaskState.SUCCESS, TaskState.FAILED})
MARKABLE_RUN_STATES = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})


def mark_task(store: Store, key: TaskInstanceKey, state: TaskState | str, who: str,
              now: datetime) -> TaskInstanceRecord:
    """Force a task instance to success or failed; returns it as it is now."""
    target = parse_choice(state, TaskState, "task state")
    if target not in MARKABLE_TASK_STATES:
        raise_unmarkable("task", target.value)
    with store.transaction():
        ti = require_task_instance(store, key)
        store.task_instances.set_state(ti, target, end_date=now)
        record_action(store, f"mark_{target.value}", who, now, dag_id=key.dag_id,
                      run_id=key.run_id, task_id=key.task_id, map_index=key.map_index)
        return require_task_instance(store, key)


def mark_run(store: Store, dag_id: str, run_id: str, state: DagRunState | str, who: str,
             now: datetime) -> DagRunRecord:
    """Force a run to success or failed; its unfinished instances end as the run did
    (success), or are failed if started and skipped if not (failed)."""
    target = parse_choice(state, DagRunState, "run state")
    if target not in MARKABLE_RUN_STATES:
        raise_unmarkable("run", target.value)
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
        record_action(store, f"mark_run_{target.value}", who, now, dag_id=dag_id, run_id=run_id)
        return require_run(store, dag_id, run_id)


def raise_unmarkable(what: str, state: str) -> NoReturn:
    """A mark to a state other than success or failed."""
    raise InvalidInputError(f"a {what} can be marked success or failed, not {state!r}")
