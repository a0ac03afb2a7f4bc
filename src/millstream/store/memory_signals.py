"""The change signal in memory: a counter in a field (see ``store/change_signal.py``)."""

from __future__ import annotations

from millstream.store.memory_journal import Journal, JournaledRepo


class MemoryChangeSignalRepo(JournaledRepo):
    """The counter every writer outside the scheduler raises; a rolled-back transaction
    takes its bump back, as on SQL."""

    STATE = ("_counter",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._counter = 0

    def bump(self) -> None:
        self._changing()
        self._counter += 1

    def current(self) -> int:
        return self._counter
