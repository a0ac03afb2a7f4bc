"""How a failed try ends: up for retry or failed, per the task's retries and retry policy."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from millstream.authoring.retry_policy import RetryAction, RetryDecision
from millstream.exceptions import TaskFailedNoRetry
from millstream.model.states import TaskState

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator

log = logging.getLogger("millstream.task")


def failed_try_outcome(task: BaseOperator, exc: BaseException, try_number: int,
                       max_tries: int, context: dict[str, Any]
                       ) -> tuple[TaskState, float | None]:
    """The state a try that raised ``exc`` ends in, and the retry delay (seconds) the
    task's retry policy chose (None: the task's own retry_delay and backoff)."""
    retries_left = try_number <= max_tries
    if isinstance(exc, TaskFailedNoRetry):
        return TaskState.FAILED, None
    decision = _ask_policy(task, exc, try_number, max_tries, context)
    if decision.action is RetryAction.FAIL:
        log.info("Task %s: the retry policy fails it now%s", task.task_id, _why(decision))
        return TaskState.FAILED, None
    if decision.action is RetryAction.RETRY and retries_left:
        delay = decision.retry_delay
        log.info("Task %s: the retry policy retries it%s%s", task.task_id,
                 "" if delay is None else f" in {delay}", _why(decision))
        return TaskState.UP_FOR_RETRY, None if delay is None else delay.total_seconds()
    return (TaskState.UP_FOR_RETRY if retries_left else TaskState.FAILED), None


def _ask_policy(task: BaseOperator, exc: BaseException, try_number: int, max_tries: int,
                context: dict[str, Any]) -> RetryDecision:
    policy = getattr(task, "retry_policy", None)
    if policy is None:
        return RetryDecision()
    try:
        decision = policy.evaluate(exc, try_number, max_tries, context)
    except Exception:
        log.exception("Task %s: its retry policy failed; its retries apply as without one",
                      task.task_id)
        return RetryDecision()
    if not isinstance(decision, RetryDecision):
        log.error("Task %s: its retry policy returned %r, not a RetryDecision; its retries "
                  "apply as without one", task.task_id, decision)
        return RetryDecision()
    if decision.retry_delay is not None and not isinstance(decision.retry_delay, timedelta):
        log.error("Task %s: retry_delay %r of its retry policy is not a timedelta; the task's "
                  "own applies", task.task_id, decision.retry_delay)
        return RetryDecision(decision.action, None, decision.reason)
    return decision


def _why(decision: RetryDecision) -> str:
    return f" ({decision.reason})" if decision.reason else ""


__all__ = ["failed_try_outcome"]
