"""Task and run states, and the one table of transitions allowed between them.

Every writer of a state (scheduler, executor events, triggerer, API, CLI)
calls :func:`check_transition` or :func:`check_run_transition` before it
stores a new state, so the tables below are the complete list of state
changes millstream can make.

Vocabulary used in the comments:

* *clear*: a user asks for a task (or run) to be done again; the task goes
  back to ``none`` and its dependencies are evaluated afresh.
* *mark*: a user forces a task to ``success`` or ``failed`` from the UI,
  API or CLI without running it.
* *run stop*: the run a task belongs to is stopped (``dagrun_timeout``, or
  a user marks the run failed); its unfinished tasks are failed (a try in
  flight) or skipped (never started), so every unfinished state may move to
  ``failed`` and ``skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from millstream.exceptions import ConflictError

__all__ = [
    "FINISHED_RUN_STATES",
    "FINISHED_TASK_STATES",
    "RUN_TRANSITIONS",
    "TASK_TRANSITIONS",
    "UNFINISHED_RUN_STATES",
    "UNFINISHED_TASK_STATES",
    "DagRunState",
    "InvalidTransition",
    "TaskState",
    "check_run_transition",
    "check_transition",
]


class TaskState(StrEnum):
    """The state of one task instance (one task in one DAG run)."""

    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    DEFERRED = "deferred"
    REMOVED = "removed"


class DagRunState(StrEnum):
    """The state of one DAG run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


_T = TaskState
_R = DagRunState

FINISHED_TASK_STATES: frozenset[TaskState] = frozenset(
    {_T.SUCCESS, _T.FAILED, _T.SKIPPED, _T.UPSTREAM_FAILED, _T.REMOVED}
)
"""States a task instance does not leave unless a user clears or marks it."""

UNFINISHED_TASK_STATES: frozenset[TaskState] = frozenset(TaskState) - FINISHED_TASK_STATES
"""States in which a task instance still has work ahead of it (``none`` included)."""

FINISHED_RUN_STATES: frozenset[DagRunState] = frozenset({_R.SUCCESS, _R.FAILED})
"""States a DAG run does not leave unless a user clears or marks it."""

UNFINISHED_RUN_STATES: frozenset[DagRunState] = frozenset(DagRunState) - FINISHED_RUN_STATES
"""States in which a DAG run still has work ahead of it."""

# Edges shared by every unfinished state (see the module docstring):
# mark success / mark failed, run stop (failed or skipped), and clear (none).
_USER_AND_RUN_STOP: frozenset[TaskState] = frozenset({_T.SUCCESS, _T.FAILED, _T.SKIPPED, _T.NONE})

TASK_TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = MappingProxyType(
    {
        # Created with the run; waiting for its upstream tasks.
        _T.NONE: frozenset(
            {
                _T.SCHEDULED,  # its trigger rule says run: ready for a slot
                _T.SKIPPED,  # trigger rule says skip, or a branch did not choose it
                _T.UPSTREAM_FAILED,  # trigger rule says an upstream failure blocks it
                _T.REMOVED,  # the task was deleted from the DAG before it ran
                _T.SUCCESS,  # mark success
                _T.FAILED,  # mark failed, or run stop
                # No none -> queued: even a "run now" goes through scheduled, so the
                # one compare-and-set "scheduled -> queued" is the only way to a worker.
            }
        ),
        # Dependencies met; waiting for a pool slot and the dispatcher.
        _T.SCHEDULED: _USER_AND_RUN_STOP
        | {
            _T.QUEUED,  # the dispatcher claimed it and handed it to the executor
            _T.UPSTREAM_FAILED,  # an upstream was marked failed before this was queued
            _T.REMOVED,  # the task was deleted from the DAG before it ran
            # -> none: clear, or a restarted scheduler resets tasks it never queued.
        },
        # Handed to the executor; no worker has started the try yet.
        _T.QUEUED: _USER_AND_RUN_STOP
        | {
            _T.RUNNING,  # a worker started the try
            _T.SCHEDULED,  # the executor gave it back or lost it (queued timeout)
            _T.UP_FOR_RETRY,  # the worker died before starting it; tries remain
            # A short try's start and end arrive together and are recorded in one write,
            # so every outcome of a running try may also follow queued directly:
            _T.UP_FOR_RESCHEDULE,  # ... a sensor's poke that gave its slot back
            _T.DEFERRED,  # ... a task that deferred at once
            # -> failed: the executor reports it could not start it and no tries remain.
            # -> none: a restarted scheduler resets tasks no executor adopted.
        },
        # A worker is executing the try.
        _T.RUNNING: _USER_AND_RUN_STOP
        | {
            _T.UP_FOR_RETRY,  # the try failed (or its heartbeat stopped); tries remain
            _T.UP_FOR_RESCHEDULE,  # a sensor in reschedule mode gave its slot back
            _T.DEFERRED,  # a deferrable operator handed a trigger to the triggerer
            # -> success / failed: the try ended. -> skipped: TaskSkipped was raised.
            # -> none: cleared while running; the worker's heartbeat sees it and stops.
        },
        # A try failed; waiting for retry_delay before the next try.
        _T.UP_FOR_RETRY: _USER_AND_RUN_STOP
        | {
            _T.SCHEDULED,  # the retry delay has passed
            _T.UPSTREAM_FAILED,  # an upstream was marked failed while this waited
            _T.REMOVED,  # the task was deleted from the DAG; no try is in flight
        },
        # A reschedule-mode sensor is waiting for its next poke.
        _T.UP_FOR_RESCHEDULE: _USER_AND_RUN_STOP
        | {
            _T.SCHEDULED,  # the reschedule date has come: poke again
            _T.REMOVED,  # the task was deleted from the DAG; no try is in flight
            # -> failed: the sensor's timeout expired while it waited.
        },
        # Suspended; the triggerer is waiting for its trigger to fire.
        _T.DEFERRED: _USER_AND_RUN_STOP
        | {
            _T.SCHEDULED,  # the trigger fired: resume the task on a worker
            _T.UP_FOR_RETRY,  # the trigger errored or timed out; tries remain
            # -> success / failed / skipped: the trigger ended the task itself, the
            #    trigger errored with no tries left, or the deferral timed out.
        },
        # Finished states: only users move them, by clear (-> none) or mark.
        _T.SUCCESS: frozenset({_T.NONE, _T.FAILED}),
        _T.FAILED: frozenset({_T.NONE, _T.SUCCESS}),
        _T.SKIPPED: frozenset({_T.NONE, _T.SUCCESS, _T.FAILED}),
        _T.UPSTREAM_FAILED: frozenset({_T.NONE, _T.SUCCESS, _T.FAILED}),
        # The task came back into the DAG (or the run is cleared): start afresh.
        # A removed task has nothing to mark.
        _T.REMOVED: frozenset({_T.NONE}),
    }
)
"""For each task state, the states it may move to."""

RUN_TRANSITIONS: Mapping[DagRunState, frozenset[DagRunState]] = MappingProxyType(
    {
        _R.QUEUED: frozenset(
            {
                _R.RUNNING,  # max_active_runs has room: the run starts
                _R.SUCCESS,  # mark success before it started
                _R.FAILED,  # mark failed, or dagrun_timeout before it started
            }
        ),
        _R.RUNNING: frozenset(
            {
                _R.SUCCESS,  # every leaf task finished and none failed (or mark)
                _R.FAILED,  # a leaf task failed, dagrun_timeout, or mark failed
            }
        ),
        _R.SUCCESS: frozenset(
            {
                _R.QUEUED,  # clear: tasks are reset and the run waits to start again
                _R.FAILED,  # mark failed
            }
        ),
        _R.FAILED: frozenset(
            {
                _R.QUEUED,  # clear: tasks are reset and the run waits to start again
                _R.SUCCESS,  # mark success
            }
        ),
    }
)
"""For each DAG run state, the states it may move to."""


class InvalidTransition(ConflictError):
    """A state change that the transition table does not allow (from the current state, the
    request conflicts with the table: a 409 to the API)."""

    def __init__(
        self, current: str, new: str, what: str = "task", allowed: Iterable[str] = ()
    ) -> None:
        self.current = current
        self.new = new
        self.what = what
        self.allowed = tuple(sorted(allowed))
        message = f"{what}: cannot change state from {current!r} to {new!r}"
        if self.allowed:
            message += f" (allowed from {current!r}: {', '.join(self.allowed)})"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[InvalidTransition], tuple[str, str, str, tuple[str, ...]]]:
        return (type(self), (self.current, self.new, self.what, self.allowed))


_E = TypeVar("_E", TaskState, DagRunState)


def _coerce(enum: type[_E], value: _E | str, kind: str, what: str) -> _E:
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        expected = ", ".join(member.value for member in enum)
        raise ValueError(
            f"{what}: unknown {kind} state {value!r}; expected one of: {expected}"
        ) from None


def check_transition(
    current: TaskState | str, new: TaskState | str, what: str = "task"
) -> TaskState:
    """Return ``new`` as a :class:`TaskState` if a task may move there from ``current``.

    ``what`` names the task in the error, e.g. ``"task 'extract' of run 'manual__x'"``.
    Raises :class:`InvalidTransition` if the table does not allow the change
    (including staying in the same state) and ``ValueError`` for an unknown
    state name.
    """
    old_state = _coerce(TaskState, current, "task", what)
    new_state = _coerce(TaskState, new, "task", what)
    if new_state not in TASK_TRANSITIONS[old_state]:
        allowed = (state.value for state in TASK_TRANSITIONS[old_state])
        raise InvalidTransition(old_state.value, new_state.value, what, allowed)
    return new_state


def check_run_transition(
    current: DagRunState | str, new: DagRunState | str, what: str = "run"
) -> DagRunState:
    """Return ``new`` as a :class:`DagRunState` if a run may move there from ``current``.

    ``what`` names the run in the error. Raises :class:`InvalidTransition` if
    the table does not allow the change and ``ValueError`` for an unknown
    state name.
    """
    old_state = _coerce(DagRunState, current, "run", what)
    new_state = _coerce(DagRunState, new, "run", what)
    if new_state not in RUN_TRANSITIONS[old_state]:
        allowed = (state.value for state in RUN_TRANSITIONS[old_state])
        raise InvalidTransition(old_state.value, new_state.value, what, allowed)
    return new_state
