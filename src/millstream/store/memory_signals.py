"""The change signal in memory: a counter in a field (see ``store/change_signal.py``)."""

from __future__ import annotations


class MemoryChangeSignalRepo:
    """The counter every writer outside the scheduler raises."""

    def __init__(self) -> None:
        self._counter = 0

    def bump(self) -> None:
        self._counter += 1

    def current(self) -> int:
        return self._counter
