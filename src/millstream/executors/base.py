"""The executor interface the scheduler dispatches to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator
    from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload


class Executor(Protocol):
    """Runs workloads somewhere and reports what happened as events.

    Executors never write the store: the scheduler applies their events.
    """

    def open_slots(self) -> int:
        """How many more workloads it can take now."""
        ...

    def submit(self, workload: TaskWorkload, task: BaseOperator) -> None:
        """Accept a workload to run."""
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
