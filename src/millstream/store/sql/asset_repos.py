"""Assets, asset events, the DAGs and tasks that use them, and DAG queues, over SQL.

Like the other repositories, it works in a Session and never commits.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from millstream.exceptions import StaleRecordError
from millstream.store.asset_records import (
    AssetEventRecord,
    AssetQueueRecord,
    AssetRecord,
    AssetReferenceRecord,
)
from millstream.store.records import TaskInstanceKey
from millstream.store.sql.common import rowcount, upsert
from millstream.store.sql.convert import DAG_TABLE, check_aware
from millstream.store.sql.models_assets import (
    AssetDagQueueRow,
    AssetEventDagRunRow,
    AssetEventRow,
    AssetRow,
    DagScheduleAssetRow,
    TaskOutletAssetRow,
)

ASSET = cast(Table, AssetRow.__table__)
EVENT = cast(Table, AssetEventRow.__table__)
SCHEDULE = cast(Table, DagScheduleAssetRow.__table__)
OUTLET = cast(Table, TaskOutletAssetRow.__table__)
QUEUE = cast(Table, AssetDagQueueRow.__table__)
LINK = cast(Table, AssetEventDagRunRow.__table__)

_ASSET_COLUMNS = (ASSET.c.uri, ASSET.c.name, ASSET.c.extra, ASSET.c.created, ASSET.c.id)
_EVENT_COLUMNS = (
    EVENT.c.id, ASSET.c.uri, EVENT.c.timestamp, EVENT.c.source_dag_id, EVENT.c.source_run_id,
    EVENT.c.source_task_id, EVENT.c.source_map_index, EVENT.c.extra,
)
_EVENTS = select(*_EVENT_COLUMNS).join_from(EVENT, ASSET, EVENT.c.asset_id == ASSET.c.id)
_QUEUE = (
    select(QUEUE.c.dag_id, ASSET.c.uri, QUEUE.c.first_event_id, QUEUE.c.queued_at)
    .join_from(QUEUE, ASSET, QUEUE.c.asset_id == ASSET.c.id)
    .order_by(QUEUE.c.dag_id, ASSET.c.uri)
)


def _asset(row: Any) -> AssetRecord:
    return AssetRecord(row.uri, row.name, dict(row.extra or {}), row.created, row.id)


def _event(row: Any) -> AssetEventRecord:
    return AssetEventRecord(
        id=row.id, uri=row.uri, timestamp=row.timestamp, source_dag_id=row.source_dag_id,
        source_run_id=row.source_run_id, source_task_id=row.source_task_id,
        source_map_index=row.source_map_index, extra=dict(row.extra or {}),
    )


class SqlAssetRepo:
    """Assets in ``asset``, their events in ``asset_event``; who schedules on and updates
    them in ``dag_schedule_asset`` and ``task_outlet_asset``; queues in ``asset_dag_queue``;
    the events each run came from in ``asset_event_dag_run``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- assets and references -----------------------------------------------------------------
    def _upsert(self, assets: Iterable[AssetRecord], now: datetime) -> dict[str, int]:
        """Add or update the assets; returns their ids by URI."""
        rows = {a.uri: {"uri": a.uri, "name": a.name, "extra": dict(a.extra), "created": now}
                for a in assets}
        if not rows:
            return {}
        check_aware("assets", "now", now)
        ordered = [rows[uri] for uri in sorted(rows)]  # a stable order: no lock-order deadlock
        self.session.execute(upsert(self.session, ASSET, ["uri"], ["name", "extra"]), ordered)
        found = self.session.execute(
            select(ASSET.c.uri, ASSET.c.id).where(ASSET.c.uri.in_(sorted(rows)))
        ).all()
        return {uri: asset_id for uri, asset_id in found}

    def set_references(
        self, dag_id: str, schedule: Iterable[AssetRecord],
        outlets: Mapping[str, Iterable[AssetRecord]], now: datetime,
    ) -> None:
        """Record the assets a DAG is scheduled on and those each of its tasks updates."""
        scheduled = builtins.list(schedule)
        produced = {task_id: builtins.list(assets) for task_id, assets in outlets.items()}
        ids = self._upsert([*scheduled, *(a for assets in produced.values() for a in assets)],
                           now)
        schedule_ids = sorted({ids[a.uri] for a in scheduled})
        self.session.execute(delete(SCHEDULE).where(SCHEDULE.c.dag_id == dag_id))
        if schedule_ids:
            self.session.execute(
                upsert(self.session, SCHEDULE, ["dag_id", "asset_id"], []),
                [{"dag_id": dag_id, "asset_id": asset_id} for asset_id in schedule_ids],
            )
        self.session.execute(
            delete(QUEUE).where(QUEUE.c.dag_id == dag_id, QUEUE.c.asset_id.not_in(schedule_ids))
        )
        self.session.execute(delete(OUTLET).where(OUTLET.c.dag_id == dag_id))
        outlet_rows = sorted({(task_id, ids[a.uri]) for task_id, assets in produced.items()
                              for a in assets})
        if outlet_rows:
            self.session.execute(
                upsert(self.session, OUTLET, ["dag_id", "task_id", "asset_id"], []),
                [{"dag_id": dag_id, "task_id": t, "asset_id": a} for t, a in outlet_rows],
            )

    def get(self, uri: str) -> AssetRecord | None:
        row = self.session.execute(select(*_ASSET_COLUMNS).where(ASSET.c.uri == uri)).first()
        return _asset(row) if row is not None else None

    def list(self) -> builtins.list[AssetRecord]:
        rows = self.session.execute(select(*_ASSET_COLUMNS).order_by(ASSET.c.uri))
        return [_asset(row) for row in rows]

    def references(self) -> builtins.list[AssetReferenceRecord]:
        """For every asset, by URI: its producing tasks and the DAGs scheduled on it."""
        producers: dict[int, builtins.list[tuple[str, str]]] = {}
        for asset_id, dag_id, task_id in self.session.execute(
            select(OUTLET.c.asset_id, OUTLET.c.dag_id, OUTLET.c.task_id)
            .order_by(OUTLET.c.dag_id, OUTLET.c.task_id)
        ):
            producers.setdefault(asset_id, []).append((dag_id, task_id))
        consumers: dict[int, builtins.list[str]] = {}
        for asset_id, dag_id in self.session.execute(
            select(SCHEDULE.c.asset_id, SCHEDULE.c.dag_id).order_by(SCHEDULE.c.dag_id)
        ):
            consumers.setdefault(asset_id, []).append(dag_id)
        return [
            AssetReferenceRecord(uri, tuple(producers.get(asset_id, [])),
                                 tuple(consumers.get(asset_id, [])))
            for uri, asset_id in self.session.execute(
                select(ASSET.c.uri, ASSET.c.id).order_by(ASSET.c.uri)
            )
        ]

    # -- events and queues ---------------------------------------------------------------------
    def record_event(
        self, uri: str, timestamp: datetime, source: TaskInstanceKey | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AssetEventRecord:
        """Add an event of the asset and queue the asset for the DAGs scheduled on it."""
        check_aware(f"event of asset {uri!r}", "timestamp", timestamp)
        asset_id = self.session.execute(select(ASSET.c.id).where(ASSET.c.uri == uri)).scalar()
        if asset_id is None:
            asset_id = self._upsert([AssetRecord(uri, uri)], timestamp)[uri]
        event = AssetEventRecord(
            id=0, uri=uri, timestamp=timestamp,
            source_dag_id=source.dag_id if source else None,
            source_run_id=source.run_id if source else None,
            source_task_id=source.task_id if source else None,
            source_map_index=source.map_index if source else -1,
            extra=dict(extra or {}),
        )
        event_id: int = self.session.execute(
            insert(EVENT).values(
                asset_id=asset_id, timestamp=timestamp, source_dag_id=event.source_dag_id,
                source_run_id=event.source_run_id, source_task_id=event.source_task_id,
                source_map_index=event.source_map_index, extra=event.extra,
            ).returning(EVENT.c.id)
        ).scalar_one()
        consumers = self.session.execute(
            select(SCHEDULE.c.dag_id)
            .join_from(SCHEDULE, DAG_TABLE, SCHEDULE.c.dag_id == DAG_TABLE.c.dag_id)
            .where(SCHEDULE.c.asset_id == asset_id, DAG_TABLE.c.is_active.is_(True),
                   DAG_TABLE.c.is_paused.is_(False))
            .order_by(SCHEDULE.c.dag_id)
        ).scalars().all()
        if consumers:
            # An entry already queued stays as it is: this event joins it.
            self.session.execute(
                upsert(self.session, QUEUE, ["dag_id", "asset_id"], []),
                [{"dag_id": dag_id, "asset_id": asset_id, "first_event_id": event_id,
                  "queued_at": timestamp} for dag_id in consumers],
            )
        return replace(event, id=event_id)

    def events(self, uri: str | None = None, limit: int = 100) -> builtins.list[AssetEventRecord]:
        query = _EVENTS.order_by(EVENT.c.id.desc()).limit(limit)
        if uri is not None:
            query = query.where(ASSET.c.uri == uri)
        return [_event(row) for row in self.session.execute(query)]

    def queued(self, dag_id: str | None = None) -> builtins.list[AssetQueueRecord]:
        query = _QUEUE if dag_id is None else _QUEUE.where(QUEUE.c.dag_id == dag_id)
        return [AssetQueueRecord(row.dag_id, row.uri, row.first_event_id, row.queued_at)
                for row in self.session.execute(query)]

    def consume(self, entries: Iterable[AssetQueueRecord]) -> builtins.list[AssetEventRecord]:
        """Remove exactly these queue entries (compare-and-set) and return their events.

        On PostgreSQL a second scheduler deleting the same entries waits for the first
        to commit and then deletes nothing; SQLite runs one writer at a time.
        """
        wanted = sorted(entries, key=lambda e: (e.dag_id, e.uri))
        if not wanted:
            return []
        ids = dict(self.session.execute(
            select(ASSET.c.uri, ASSET.c.id).where(ASSET.c.uri.in_({e.uri for e in wanted}))
        ).all())
        for entry in wanted:
            removed = self.session.execute(
                delete(QUEUE).where(
                    QUEUE.c.dag_id == entry.dag_id,
                    QUEUE.c.asset_id == ids.get(entry.uri, -1),
                    QUEUE.c.first_event_id == entry.first_event_id,
                )
            )
            if rowcount(removed) != 1:
                raise StaleRecordError(
                    f"the queued update of asset {entry.uri!r} for DAG {entry.dag_id!r} "
                    "was consumed by someone else"
                )
        since = [and_(EVENT.c.asset_id == ids[e.uri], EVENT.c.id >= e.first_event_id)
                 for e in wanted]
        query = _EVENTS.where(or_(*since))
        return [_event(row) for row in self.session.execute(query.order_by(EVENT.c.id))]

    def link_run(self, dag_id: str, run_id: str, event_ids: Iterable[int]) -> None:
        rows = [{"dag_id": dag_id, "run_id": run_id, "event_id": event_id}
                for event_id in sorted(set(event_ids))]
        if rows:
            self.session.execute(
                upsert(self.session, LINK, ["dag_id", "run_id", "event_id"], []), rows
            )

    def run_events(self, dag_id: str, run_id: str) -> builtins.list[AssetEventRecord]:
        linked = select(LINK.c.event_id).where(LINK.c.dag_id == dag_id, LINK.c.run_id == run_id)
        query = _EVENTS.where(EVENT.c.id.in_(linked)).order_by(EVENT.c.id)
        return [_event(row) for row in self.session.execute(query)]


__all__ = ["SqlAssetRepo"]
