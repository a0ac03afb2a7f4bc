"""Exceptions that users raise in tasks or that millstream raises at them."""

from __future__ import annotations

from datetime import datetime, timedelta


class MillstreamError(Exception):
    """Base class of every error millstream raises on purpose."""


class DagDefinitionError(MillstreamError, ValueError):
    """A DAG or task is defined wrongly; the message names the DAG and tasks."""


class DagCycleError(DagDefinitionError):
    """The task dependencies of a DAG form a cycle."""


class DuplicateTaskIdError(DagDefinitionError):
    """Two tasks of one DAG share a task id."""


class TaskSkipped(MillstreamError):
    """Raise inside a task to end it as skipped."""


class TaskFailedNoRetry(MillstreamError):
    """Raise inside a task to fail it at once, without using its remaining retries."""


class TaskTimeout(MillstreamError):
    """A task ran longer than its execution_timeout."""


class TemplateRenderError(MillstreamError):
    """A templated field of a task could not be rendered."""


class XComError(MillstreamError):
    """An XCom value could not be stored or read."""


class ParamValidationError(MillstreamError, ValueError):
    """A DAG param or run conf value does not satisfy its Param definition."""


class StaleRecordError(MillstreamError, RuntimeError):
    """A record was written back, but its row changed (or vanished) since it was read.

    Every state change is a compare-and-set on the state the record holds, so a writer
    working from an outdated record (another scheduler moved the task on) never overwrites
    someone else's change. Roll the transaction back and read again.
    """


class DomainError(MillstreamError):
    """A request the domain refuses: the base of the three errors every front end maps.

    The API answers them with problem details (404, 409, 422), the CLI with one line and
    exit code 2, the UI with an error page or the form again; any other exception is a
    bug and stays a 500 or a traceback.
    """


class NotFoundError(DomainError):
    """A DAG, run, task instance, pool, user ... that the request names does not exist.

    Not a ``KeyError``: the API answers it with 404, so a stray ``KeyError`` (a bug) must
    not look like one.
    """


class ConflictError(DomainError):
    """The request collides with the current state: a row another writer created first
    (e.g. the same run), or a change the current state does not allow."""


class InvalidInputError(DomainError):
    """Input a user gave (a conf, a date, a pattern, a state) is malformed or not allowed.

    Not a ``ValueError``, for the same reason as :class:`NotFoundError`. ``field`` names
    the input at fault when one does (``body.conf``, ``--conf``), so an API can point at it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class StoreUsageError(MillstreamError, RuntimeError):
    """The store was used the wrong way: a repository method called outside
    ``store.transaction()``. A programming error, never a user's."""


class SensorTimeout(TaskFailedNoRetry):
    """A sensor waited longer than its ``timeout``; the task fails without retrying."""


class TaskDeferred(MillstreamError):
    """Raised by ``BaseOperator.defer()``: suspend the task until ``trigger`` fires.

    The try ends in state ``deferred``; the triggerer runs ``trigger`` and, when it
    yields an event, the task resumes (same try) by calling ``method_name(context,
    event=payload, **kwargs)``. ``timeout`` (a timedelta) bounds the whole wait.
    """

    def __init__(
        self,
        *,
        trigger: object,
        method_name: str,
        kwargs: dict[str, object] | None = None,
        timeout: timedelta | None = None,
    ) -> None:
        super().__init__(f"deferred to {type(trigger).__name__}, resuming in {method_name}()")
        self.trigger = trigger
        self.method_name = method_name
        self.kwargs = dict(kwargs or {})
        self.timeout = timeout


class TaskDeferralError(MillstreamError):
    """The trigger of a deferred task failed; the task resumes only to fail with this."""


class TaskDeferralTimeout(MillstreamError):
    """A deferred task's trigger did not fire before the deferral's timeout."""


class TaskRescheduled(MillstreamError):
    """Raised by a sensor in reschedule mode: end this poke, free the slot, poke again at
    ``reschedule_date`` (the same try continues; its try number does not change)."""

    def __init__(self, reschedule_date: datetime) -> None:
        super().__init__(f"rescheduled to {reschedule_date.isoformat()}")
        self.reschedule_date = reschedule_date
