"""The parts of the repository interfaces that creating scheduled runs uses: when each DAG
is due, and adding many runs with their first task instances at once.

:class:`~millstream.store.interfaces.DagRepo`, ``RunRepo`` and ``TaskInstanceRepo`` include
them, and follow the rules said there (the caller's transaction, immutable records).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from millstream.store.records import DagRunRecord, TaskInstanceRecord


class DueDagRepo(Protocol):
    """When each DAG's next scheduled run may be due (a DAG repository's part)."""

    def due(self, now: datetime) -> builtins.list[str]:
        """The active, unpaused DAGs whose next scheduled run may be due at ``now``, by id,
        found by index. A DAG is due at once when first stored, when its version changes,
        when it is unpaused or reactivated, and when one of its runs is deleted."""
        ...

    def next_due_after(self, now: datetime) -> datetime | None:
        """The earliest next due moment after ``now`` of the active, unpaused DAGs."""
        ...

    def set_next_due(self, dag_id: str, moment: datetime | None) -> None:
        """When the DAG's next scheduled run may be due; None: not until the DAG changes."""
        ...

    def set_next_due_many(self, moments: Mapping[str, datetime | None]) -> None:
        """``set_next_due`` for each DAG of ``moments``, at once."""
        ...


class NewRunRepo(Protocol):
    """Adding many new runs at once (a run repository's part)."""

    def add_new(self, runs: Sequence[DagRunRecord]) -> builtins.list[DagRunRecord]:
        """Add the runs whose DAG has no run of the same id or logical date yet, at once;
        returns those added, in order. The others are passed over, not raised about."""
        ...

    def active_counts(self, dag_ids: Collection[str]) -> dict[str, int]:
        """How many queued or running runs each of these DAGs has (none: left out)."""
        ...


class NewInstanceRepo(Protocol):
    """Adding the first task instances of new runs at once (a task instance repository's
    part)."""

    def add_to_new_runs(self, instances: Iterable[TaskInstanceRecord]) -> None:
        """``add_many`` for runs this transaction just added (which have no instances yet),
        at once, nothing looked up first; an instance already there raises ConflictError."""
        ...


__all__ = ["DueDagRepo", "NewInstanceRepo", "NewRunRepo"]
