"""The executor interface the scheduler dispatches to."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
    from millstream.store.outcome_notes import OutcomeNote
    from millstream.store.records import TaskInstanceKey


class Executor(Protocol):
    """Runs workloads somewhere and reports what happened as events.

    Executors never write the store: the scheduler applies their events.
    """

    def open_slots(self) -> int:
        """How many more workloads it can take now."""
        ...

    def submit(self, workload: TaskWorkload) -> None:
        """Accept a workload to run: the try of ``workload.key`` as the workload says."""
        ...

    def sync(self) -> None:
        """Make progress: start accepted work, notice finished work."""
        ...

    def drain_events(self) -> list[TaskStartedEvent | TaskFinishedEvent]:
        """Events since the last call, oldest first."""
        ...

    def has_work(self) -> bool:
        """Whether anything is accepted or running."""
        ...

    def wait_for_events(self, timeout: float) -> bool:
        """Block until an event is ready or ``timeout`` seconds pass; True if one is ready."""
        ...

    def in_flight(self) -> set[TaskInstanceKey]:
        """Every instance with a try accepted and not yet reported finished."""
        ...

    def running_pids(self) -> dict[TaskInstanceKey, int]:
        """The process id of each running try, where tries are processes."""
        ...

    def terminate(self, key: TaskInstanceKey) -> None:
        """Stop the try of ``key`` (its outcome is still reported)."""
        ...


@runtime_checkable
class RecordsRemotely(Protocol):
    """An executor whose workers record tries' starts and outcomes in the store themselves
    (the Celery executor): the scheduler is told what they recorded, not asked to apply it."""

    def drain_recorded(self) -> tuple[bool, list[OutcomeNote]]:
        """Whether notes may have been missed since the last call (then every active run
        must be looked at again), and the notes received, oldest first."""
        ...


def batched(executor: Executor) -> contextlib.AbstractContextManager[Any]:
    """A context in which workloads submitted to ``executor`` are sent together at its
    end, where the executor can (one write to the local executor's fork server)."""
    batch = getattr(executor, "batched", None)
    return batch() if callable(batch) else contextlib.nullcontext()


def prepare(executor: Executor, dag_file: str | None) -> None:
    """Ask ``executor`` to load ``dag_file`` now, ahead of the tries it is about to get,
    where it can (the local executor's zygote of that file). Nothing runs, so asking from
    a transaction that is then rolled back does no harm."""
    prepare_file = getattr(executor, "prepare", None)
    if dag_file and callable(prepare_file):
        prepare_file(dag_file)
