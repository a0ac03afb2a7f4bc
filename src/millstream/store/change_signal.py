"""The change signal: a counter every writer outside the scheduler raises.

A user clearing a task, a triggerer resuming a deferred one, an operator triggering a
run: each changes runs or task instances behind the scheduler's back. Each raises this
counter in its own transaction, and the scheduler looks at every active run again when
the counter has moved. The audit log only records; it wakes nobody.
"""

from __future__ import annotations

from typing import Protocol

SIGNAL_NAME = "runs"
"""The counter's row: runs and task instances changed outside the scheduler."""


class ChangeSignalRepo(Protocol):
    """One counter, raised by writers and read by the scheduler."""

    def bump(self) -> None:
        """Raise the counter (in the caller's transaction: seen once that commits)."""
        ...

    def current(self) -> int:
        """The counter's value; only its changes mean anything."""
        ...
