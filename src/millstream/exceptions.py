"""Exceptions that users raise in tasks or that millstream raises at them."""

from __future__ import annotations


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


class ConflictError(MillstreamError, ValueError):
    """A write collided with a row another writer created first (e.g. the same run)."""
