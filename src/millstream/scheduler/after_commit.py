"""What a tick does once its transaction has committed: hand the tries it claimed to the
executor first, then the rest (metrics, callbacks, stopping timed-out tries)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from millstream.executors.base import batched

if TYPE_CHECKING:
    from millstream.executors.base import Executor
    from millstream.runtime.events import TaskWorkload


class AfterCommit(list[Callable[[], None]]):
    """The effects of a transaction, to run only once it has committed, and the workloads
    it claimed. The workloads go first: the next try's start is what a handoff waits for,
    and nothing else here is on its way."""

    def __init__(self) -> None:
        super().__init__()
        self.workloads: list[TaskWorkload] = []

    def clear(self) -> None:
        """The transaction rolled back: nothing of it is to be done."""
        super().clear()
        self.workloads.clear()

    def run(self, executor: Executor) -> None:
        """Submit the workloads (in one batch), then run the effects, in their order."""
        workloads, self.workloads = self.workloads, []
        effects = list(self)
        super().clear()
        with batched(executor):
            for workload in workloads:
                executor.submit(workload)
        for effect in effects:
            effect()


__all__ = ["AfterCommit"]
