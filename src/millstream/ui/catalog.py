"""The DAG structures the UI shows, parsed once per version and kept in memory.

A DAG's structure is stored per version, and a version is named by the hash of its
content, so a parsed structure never goes stale: the cache only has to know which
version is the latest (one cheap query for every DAG) and fetch the ones it has not
seen, all in one query. Filtering 1,000 DAGs by tag or text then costs no database work.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from millstream.model.intervals import DataInterval, OnceSchedule
from millstream.parsing.serialize import DagStructure
from millstream.store.interfaces import Store
from millstream.store.records import DagRecord

MAX_CACHED = 4096
NEXT_RUN_TTL = timedelta(minutes=1)
"""How long a DAG's next run is remembered when it is not due sooner."""


@dataclass(frozen=True, slots=True)
class DagSummary:
    """What the DAG list shows and filters on, for one version of one DAG."""

    dag_id: str
    version: str
    description: str
    tags: tuple[str, ...]
    owners: tuple[str, ...]
    schedule: str
    structure: DagStructure

    def matches(self, search: str, tags: Iterable[str]) -> bool:
        """Whether the DAG has every tag in ``tags`` and ``search`` in its id, description
        or owners (case-insensitive)."""
        if not set(tags) <= set(self.tags):
            return False
        if not search:
            return True
        needle = search.lower()
        return any(needle in text.lower()
                   for text in (self.dag_id, self.description, *self.owners))


class DagCatalog:
    """Parsed DAG structures by (dag_id, version), least recently used dropped past a bound."""

    def __init__(self, max_cached: int = MAX_CACHED) -> None:
        self._cached: OrderedDict[tuple[str, str], DagSummary] = OrderedDict()
        self._next: dict[tuple[str, str, DataInterval | None],
                         tuple[datetime, tuple[datetime, datetime] | None]] = {}
        self._lock = threading.Lock()
        self._max = max_cached

    def summaries(self, store: Store, records: Iterable[DagRecord]) -> dict[str, DagSummary]:
        """The latest version's summary of each DAG (DAGs never serialized are left out)."""
        found: dict[str, DagSummary] = {}
        missing: list[str] = []
        for record in records:
            if record.latest_version is None:
                continue
            summary = self._get((record.dag_id, record.latest_version))
            if summary is None:
                missing.append(record.dag_id)
            else:
                found[record.dag_id] = summary
        if missing:
            for dag_id, (version, text) in store.browse.latest_structures(missing).items():
                found[dag_id] = self._add(dag_id, version, text)
        return found

    def structure(self, store: Store, dag_id: str,
                  version: str | None = None) -> DagStructure | None:
        """One version of a DAG's structure (the latest when ``version`` is None)."""
        if version is None:
            record = store.dags.get(dag_id)
            if record is None or record.latest_version is None:
                return None
            version = record.latest_version
        cached = self._get((dag_id, version))
        if cached is not None:
            return cached.structure
        text = store.dags.structure(dag_id, version)
        if text is None:
            return None
        return self._add(dag_id, version, text).structure

    def next_run(self, structure: DagStructure, last: DataInterval | None,
                 now: datetime) -> tuple[datetime, datetime] | None:
        """:func:`next_run`, remembered until it is due (at most ``NEXT_RUN_TTL``): working
        out cron schedules is the slowest part of a DAG list page."""
        key = (structure.dag_id, structure.version, last)
        with self._lock:
            found = self._next.get(key)
        if found is not None and now < found[0]:
            return found[1]
        result = next_run(structure, last, now)
        until = now + NEXT_RUN_TTL
        if result is not None and now < result[1] < until:
            until = result[1]
        with self._lock:
            if len(self._next) >= self._max:
                self._next.clear()
            self._next[key] = (until, result)
        return result

    def clear(self) -> None:
        with self._lock:
            self._cached.clear()
            self._next.clear()

    def _get(self, key: tuple[str, str]) -> DagSummary | None:
        with self._lock:
            summary = self._cached.get(key)
            if summary is not None:
                self._cached.move_to_end(key)
            return summary

    def _add(self, dag_id: str, version: str, text: str) -> DagSummary:
        structure = DagStructure.from_json_text(text)
        owners = sorted({str(t.raw.get("owner") or "") for t in structure.tasks} - {""})
        summary = DagSummary(
            dag_id=dag_id,
            version=version,
            description=structure.description or "",
            tags=tuple(structure.tags),
            owners=tuple(owners),
            schedule=structure.schedule_display or "None",
            structure=structure,
        )
        with self._lock:
            self._cached[(dag_id, version)] = summary
            self._cached.move_to_end((dag_id, version))
            while len(self._cached) > self._max:
                self._cached.popitem(last=False)
        return summary


def next_run(structure: DagStructure, last: DataInterval | None,
             now: datetime) -> tuple[datetime, datetime] | None:
    """(logical date, due at) of the DAG's next scheduled run, or None if none is coming.

    ``last`` is the DAG's resume point, the data interval of its latest scheduled run
    (:func:`millstream.scheduler.runs.last_scheduled_intervals`, which the scheduler reads).
    """
    timetable = structure.timetable
    if isinstance(timetable, OnceSchedule) and last is not None:
        return None
    due_now = timetable.next_interval(last, structure.start_date, structure.end_date,
                                      structure.catchup, now)
    if due_now is not None:
        return due_now.start, due_now.end
    due = timetable.next_run_after(now, start_date=structure.start_date,
                                   end_date=structure.end_date)
    if due is None:
        return None
    if isinstance(timetable, OnceSchedule):
        return due, due
    interval = timetable.data_interval_for(due - timedelta(microseconds=1))
    return interval.start, due


CATALOG = DagCatalog()
"""The web server's one cache (structures are immutable per version, so sharing is safe)."""

__all__ = ["CATALOG", "DagCatalog", "DagSummary", "next_run"]
