"""The in-memory asset repository: assets, events, DAG references and queues in dicts."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from millstream.exceptions import StaleRecordError
from millstream.store.asset_records import (
    AssetEventRecord,
    AssetQueueRecord,
    AssetRecord,
    AssetReferenceRecord,
)
from millstream.store.interfaces import DagRepo
from millstream.store.memory_journal import Journal, JournaledRepo
from millstream.store.records import TaskInstanceKey


class MemoryAssetRepo(JournaledRepo):
    """Assets by URI, events in a list, and each DAG's references and queue entries.

    The DAG repository of the same store tells which DAGs are active and unpaused.
    """

    STATE = ("_assets", "_events", "_schedule", "_outlets", "_queue", "_links")

    def __init__(self, dags: DagRepo, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._dags = dags
        self._assets: dict[str, AssetRecord] = {}
        self._events: list[AssetEventRecord] = []
        self._schedule: dict[str, set[str]] = {}  # dag_id -> URIs it is scheduled on
        self._outlets: dict[str, dict[str, set[str]]] = {}  # dag_id -> task_id -> URIs
        self._queue: dict[tuple[str, str], AssetQueueRecord] = {}  # (dag_id, uri)
        self._links: dict[tuple[str, str], list[int]] = {}  # (dag_id, run_id) -> event ids

    def _upsert(self, asset: AssetRecord, now: datetime) -> AssetRecord:
        self._changing()
        known = self._assets.get(asset.uri)
        if known is None:
            stored = AssetRecord(asset.uri, asset.name, dict(asset.extra), now,
                                 len(self._assets) + 1)
        else:
            stored = replace(known, name=asset.name, extra=dict(asset.extra))
        self._assets[asset.uri] = stored
        return stored

    def set_references(
        self, dag_id: str, schedule: Iterable[AssetRecord],
        outlets: Mapping[str, Iterable[AssetRecord]], now: datetime,
    ) -> None:
        self._changing()
        scheduled = {self._upsert(a, now).uri for a in schedule}
        produced = {
            task_id: {self._upsert(a, now).uri for a in assets}
            for task_id, assets in outlets.items()
        }
        self._schedule[dag_id] = scheduled
        self._outlets[dag_id] = {t: uris for t, uris in produced.items() if uris}
        for key in [k for k in self._queue if k[0] == dag_id and k[1] not in scheduled]:
            del self._queue[key]

    def get(self, uri: str) -> AssetRecord | None:
        return self._assets.get(uri)

    def list(self) -> builtins.list[AssetRecord]:
        return [self._assets[uri] for uri in sorted(self._assets)]

    def references(self) -> builtins.list[AssetReferenceRecord]:
        found: builtins.list[AssetReferenceRecord] = []
        for uri in sorted(self._assets):
            producers = sorted(
                (dag_id, task_id)
                for dag_id, tasks in self._outlets.items()
                for task_id, uris in tasks.items() if uri in uris
            )
            consumers = sorted(d for d, uris in self._schedule.items() if uri in uris)
            found.append(AssetReferenceRecord(uri, tuple(producers), tuple(consumers)))
        return found

    def record_event(
        self, uri: str, timestamp: datetime, source: TaskInstanceKey | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AssetEventRecord:
        self._changing()
        if uri not in self._assets:
            self._upsert(AssetRecord(uri, uri), timestamp)
        event = AssetEventRecord(
            id=len(self._events) + 1,
            uri=uri,
            timestamp=timestamp,
            source_dag_id=source.dag_id if source else None,
            source_run_id=source.run_id if source else None,
            source_task_id=source.task_id if source else None,
            source_map_index=source.map_index if source else -1,
            extra=dict(extra or {}),
        )
        self._events.append(event)
        for dag_id, uris in self._schedule.items():
            record = self._dags.get(dag_id)
            if uri not in uris or record is None or not record.is_active or record.is_paused:
                continue
            self._queue.setdefault((dag_id, uri), AssetQueueRecord(dag_id, uri, event.id,
                                                                   timestamp))
        return event

    def events(self, uri: str | None = None, limit: int = 100) -> builtins.list[AssetEventRecord]:
        found = [e for e in reversed(self._events) if uri is None or e.uri == uri]
        return found[:limit]

    def queued(self, dag_id: str | None = None) -> builtins.list[AssetQueueRecord]:
        return [self._queue[k] for k in sorted(self._queue) if dag_id is None or k[0] == dag_id]

    def consume(self, entries: Iterable[AssetQueueRecord]) -> builtins.list[AssetEventRecord]:
        wanted = builtins.list(entries)
        for entry in wanted:  # all checked before any is removed: nothing to roll back
            if self._queue.get((entry.dag_id, entry.uri)) != entry:
                raise StaleRecordError(
                    f"the queued update of asset {entry.uri!r} for DAG {entry.dag_id!r} "
                    "was consumed by someone else"
                )
        self._changing()
        for entry in wanted:
            del self._queue[(entry.dag_id, entry.uri)]
        firsts = {e.uri: e.first_event_id for e in wanted}
        return [e for e in self._events if e.uri in firsts and e.id >= firsts[e.uri]]

    def link_run(self, dag_id: str, run_id: str, event_ids: Iterable[int]) -> None:
        self._changing()
        self._links.setdefault((dag_id, run_id), []).extend(event_ids)

    def run_events(self, dag_id: str, run_id: str) -> builtins.list[AssetEventRecord]:
        ids = set(self._links.get((dag_id, run_id), []))
        return [e for e in self._events if e.id in ids]

    def forget_run(self, dag_id: str, run_id: str) -> None:
        """Drop a deleted run's links to the events it was created from."""
        self._changing()
        self._links.pop((dag_id, run_id), None)
