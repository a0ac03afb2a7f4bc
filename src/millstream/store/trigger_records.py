"""Records of deferral and reschedule: stored triggers, sensors' reschedules, suspended tries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord

SUSPENSION_FIELDS = ("reschedule_date", "trigger_id", "trigger_timeout", "next_method",
                     "next_kwargs")
"""Task instance fields that describe a suspended try (rescheduled or deferred)."""

SUSPENDED_TRY_STATES = frozenset({
    TaskState.UP_FOR_RESCHEDULE, TaskState.DEFERRED, TaskState.SCHEDULED, TaskState.QUEUED,
    TaskState.RUNNING,
})
"""States in which a suspended try is still the current one (waiting, or resuming)."""


def suspension_reset(
    ti: TaskInstanceRecord, state: TaskState, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """``fields``, plus the suspension fields cleared if ``state`` ends the current try.

    A try that ends (success, failure, retry) or is cleared or marked by a user forgets
    its reschedule date, trigger and resume method, so that a later try starts afresh.
    Only instances that hold such a field pay for the extra columns.
    """
    if state in SUSPENDED_TRY_STATES or all(
        getattr(ti, name) is None for name in SUSPENSION_FIELDS
    ):
        return dict(fields)
    return {**{name: None for name in SUSPENSION_FIELDS}, **fields}


@dataclass(frozen=True, slots=True)
class TriggerRecord:
    """A trigger of one or more deferred task instances, as the triggerer rebuilds it.

    ``kwargs`` is the JSON the trigger's ``serialize()`` gave; ``triggerer_id`` names the
    triggerer running it (None: nobody yet), whose ``heartbeat_at`` shows it is alive.
    """

    id: int
    classpath: str
    kwargs: dict[str, Any]
    created_date: datetime
    triggerer_id: str | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaskRescheduleRecord:
    """One poke of a reschedule-mode sensor that found nothing and gave its slot back."""

    key: TaskInstanceKey
    try_number: int
    start_date: datetime
    end_date: datetime
    reschedule_date: datetime
