"""Missed deadlines: a task's ``sla`` or a DAG's deadline alert that passed unmet.

One record per miss, written once by whichever scheduler found it first: the UI lists
them and the run page shows a badge; the repository interface is :class:`DeadlineMissRepo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

SLA = "sla"
"""A task with ``sla`` had not succeeded (or been skipped) by interval end + sla."""
DEADLINE = "deadline"
"""A DAG run had not ended by its deadline alert's reference + interval."""


@dataclass(frozen=True, slots=True)
class DeadlineMissRecord:
    """One missed deadline of one run (``task_id`` is "" for a DAG's deadline)."""

    dag_id: str
    run_id: str
    task_id: str
    kind: str  # SLA or DEADLINE
    deadline: datetime
    detected_at: datetime

    @property
    def key(self) -> tuple[str, str, str, str, datetime]:
        return (self.dag_id, self.run_id, self.task_id, self.kind, self.deadline)


class DeadlineMissRepo(Protocol):
    """Recorded misses of deadlines."""

    def add(self, record: DeadlineMissRecord) -> bool:
        """Record a miss; False (and nothing changes) if the same miss is recorded already."""
        ...

    def for_run(self, dag_id: str, run_id: str) -> list[DeadlineMissRecord]:
        """The misses of one run, by deadline."""
        ...

    def latest(self, limit: int = 100, dag_id: str | None = None) -> list[DeadlineMissRecord]:
        """The most recently detected misses, newest first (of one DAG if given)."""
        ...

    def count(self, dag_id: str | None = None) -> int:
        """How many misses are recorded (of one DAG if given)."""
        ...
