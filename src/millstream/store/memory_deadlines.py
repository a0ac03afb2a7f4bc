"""Missed deadlines in memory (for tests and dag.test())."""

from __future__ import annotations

from millstream.store.deadline_records import DeadlineMissRecord
from millstream.store.memory_journal import Journal, JournaledRepo


class MemoryDeadlineMissRepo(JournaledRepo):
    """Misses keyed by what makes them the same miss."""

    STATE = ("_misses",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._misses: dict[tuple[object, ...], DeadlineMissRecord] = {}

    def add(self, record: DeadlineMissRecord) -> bool:
        if record.key in self._misses:
            return False
        self._changing()
        self._misses[record.key] = record
        return True

    def for_run(self, dag_id: str, run_id: str) -> list[DeadlineMissRecord]:
        found = [m for m in self._misses.values() if (m.dag_id, m.run_id) == (dag_id, run_id)]
        return sorted(found, key=lambda m: (m.deadline, m.task_id))

    def latest(self, limit: int = 100, dag_id: str | None = None) -> list[DeadlineMissRecord]:
        found = [m for m in self._misses.values() if dag_id is None or m.dag_id == dag_id]
        found.sort(key=lambda m: (m.detected_at, m.deadline), reverse=True)
        return found[:limit]

    def count(self, dag_id: str | None = None) -> int:
        return sum(1 for m in self._misses.values() if dag_id is None or m.dag_id == dag_id)
