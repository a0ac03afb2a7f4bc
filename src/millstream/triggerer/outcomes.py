"""What a trigger's end does to the tasks deferred on it: resume them, or fail them.

Either way the task instances go back to ``scheduled`` and continue their try on a
worker: with the event as the resume method's ``event`` argument, or with the reserved
method ``__fail__``, which fails the try there (``TaskDeferralError``, or
``TaskDeferralTimeout`` past the deferral's timeout), so retries, ``soft_fail`` and the
failure callbacks behave as for any other failure and the error lands in the try's log.
The trigger's row goes in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from millstream import observability
from millstream.model.states import TaskState
from millstream.triggerer.serde import encode

if TYPE_CHECKING:
    from millstream.store.interfaces import Store
    from millstream.store.records import TaskInstanceRecord

log = logging.getLogger("millstream.triggerer")

FAIL_METHOD = "__fail__"


@dataclass(frozen=True)
class TriggerOutcome:
    """How one trigger ended: its first event's payload, or an error (with traceback)."""

    trigger_id: int
    payload: Any = None
    error: str | None = None
    traceback: str | None = None


def apply_outcome(store: Store, outcome: TriggerOutcome) -> int:
    """Resume (or fail) the tasks waiting on the trigger and delete it; returns how many
    task instances moved. Call inside a transaction."""
    if outcome.error is None:
        try:
            event = encode(outcome.payload, f"the event of trigger {outcome.trigger_id}")
        except TypeError as exc:
            outcome = TriggerOutcome(outcome.trigger_id, error=str(exc))
    waiting = store.triggers.waiting_on(outcome.trigger_id)
    for ti in waiting:
        if outcome.error is None:
            kwargs = {**(ti.next_kwargs or {}), "event": event}
            _resume(store, ti, ti.next_method or "execute_complete", kwargs)
            log.info("trigger %d fired: %s resumes", outcome.trigger_id, _label(ti))
        else:
            kwargs = {"error": f"trigger failed: {outcome.error}"}
            if outcome.traceback:
                kwargs["traceback"] = outcome.traceback
            _resume(store, ti, FAIL_METHOD, kwargs)
            log.warning("trigger %d failed: %s fails (%s)", outcome.trigger_id, _label(ti),
                        outcome.error)
    store.triggers.delete(outcome.trigger_id)
    observability.trigger_ended("fired" if outcome.error is None else "failed", waiting)
    return len(waiting)


def expire_deferrals(store: Store, now: datetime) -> int:
    """Fail the deferred task instances whose timeout has passed; returns how many.
    Their triggers, now unused, go with the next :meth:`TriggerRepo.clean_unused`."""
    expired = store.triggers.timed_out(now)
    for ti in expired:
        timeout = ti.trigger_timeout.isoformat() if ti.trigger_timeout else "?"
        _resume(store, ti, FAIL_METHOD, {
            "error": f"the trigger did not fire before the deferral's timeout ({timeout})",
            "timeout": True,
        })
        log.warning("%s timed out while deferred", _label(ti))
    observability.trigger_ended("timed_out", expired)
    return len(expired)


def _resume(store: Store, ti: TaskInstanceRecord, method: str, kwargs: dict[str, Any]) -> None:
    store.task_instances.set_state(
        ti, TaskState.SCHEDULED, next_method=method, next_kwargs=kwargs, trigger_id=None,
        trigger_timeout=None,
    )
    store.signals.bump()  # the scheduler has a task to dispatch that it did not schedule


def _label(ti: TaskInstanceRecord) -> str:
    return f"task {ti.label} of run {ti.run_id} (DAG {ti.dag_id})"
