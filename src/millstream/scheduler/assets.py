"""Data-aware scheduling: asset events from successful tasks, and the runs they trigger.

A task with ``outlets`` records one asset event per outlet when a try succeeds (in the
same transaction as the outcome). Each event queues its asset for every active,
unpaused DAG scheduled on it. A DAG whose every scheduled asset is queued gets a run:
``run_type="asset_triggered"``, logical date = the moment it is created, data interval
from the earliest to the latest event it consumed. Consuming the queue entries is a
compare-and-set in the run's own transaction, so with several schedulers exactly one
creates the run.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from millstream.authoring.assets import Asset, AssetTriggered
from millstream.exceptions import ParamValidationError
from millstream.model.intervals import DataInterval
from millstream.scheduler.runs import create_run, make_run_id
from millstream.store.asset_records import AssetEventRecord, AssetQueueRecord, AssetRecord
from millstream.store.records import DagRunRecord, TaskInstanceKey

if TYPE_CHECKING:
    from millstream.scheduler.dag_view import DagView, TaskView
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.scheduler")

RUN_TYPE = "asset_triggered"


# -- the pure part -------------------------------------------------------------------------------
def scheduled_assets(dag: DagView) -> tuple[str, ...]:
    """The URIs a DAG is scheduled on; empty if time-scheduled."""
    timetable = dag.timetable
    return timetable.uris if isinstance(timetable, AssetTriggered) else ()


def due_dags(
    schedules: Mapping[str, Collection[str]],
    queued: Mapping[str, Collection[str]],
    paused: Collection[str] = (),
) -> list[str]:
    """The DAGs to run now: every asset each is scheduled on has a queued update.

    ``schedules`` maps a DAG to the URIs it is scheduled on, ``queued`` a DAG to the URIs
    updated since its last asset-triggered run. A paused DAG waits (its queue is kept).
    """
    return sorted(
        dag_id for dag_id, uris in schedules.items()
        if uris and dag_id not in paused and set(uris) <= set(queued.get(dag_id, ()))
    )


def interval_of(events: Iterable[AssetEventRecord], now: datetime) -> DataInterval:
    """The data interval of a run made from these events: earliest to latest event."""
    moments = [event.timestamp for event in events]
    if not moments:  # only if the events were removed under the queue: a point at now
        return DataInterval(now, now)
    return DataInterval(min(moments), max(moments))


def _record(asset: Asset) -> AssetRecord:
    return AssetRecord(asset.uri, asset.name, dict(asset.extra))


# -- events --------------------------------------------------------------------------------------
def record_outlet_events(
    store: Store, task: TaskView, key: TaskInstanceKey, when: datetime
) -> list[AssetEventRecord]:
    """One event per outlet of a task whose try just succeeded (caller's transaction)."""
    return [store.assets.record_event(asset.uri, when, key) for asset in task.outlets]


# -- the scheduler's part ------------------------------------------------------------------------
class AssetScheduling:
    """Keeps the store's asset references in step with the DAGs, and creates due runs.

    One per scheduler: it remembers which DAG versions it has registered, so a DAG's
    references are written only when its structure changed.
    """

    def __init__(self) -> None:
        self._registered: dict[str, str | int] = {}

    def register(self, store: Store, dags: Mapping[str, DagView], now: datetime) -> int:
        """Record each new or changed DAG's scheduled assets and task outlets (its own
        transaction); returns how many DAGs were written."""
        pending = {
            dag_id: dag.version or id(dag)
            for dag_id, dag in dags.items()
            if self._registered.get(dag_id) != (dag.version or id(dag))
        }
        if not pending:
            return 0
        with store.transaction():
            for dag_id in sorted(pending):
                dag = dags[dag_id]
                timetable = dag.timetable
                schedule = timetable.assets if isinstance(timetable, AssetTriggered) else ()
                outlets = {task.task_id: [_record(a) for a in task.outlets]
                           for task in dag.tasks if task.outlets}
                store.assets.set_references(dag_id, [_record(a) for a in schedule], outlets,
                                            now)
        self._registered.update(pending)  # only once committed
        return len(pending)

    def create_runs(
        self, store: Store, dags: Mapping[str, DagView], paused: Collection[str], now: datetime
    ) -> list[DagRunRecord]:
        """Create an asset-triggered run for every due DAG (in the caller's transaction).

        A :class:`~millstream.exceptions.StaleRecordError` means another scheduler took
        the same updates first: the caller rolls back.
        """
        schedules = {d: scheduled_assets(dag) for d, dag in dags.items()}
        schedules = {d: uris for d, uris in schedules.items() if uris}
        if not schedules:
            return []
        entries: dict[str, dict[str, AssetQueueRecord]] = {}
        for entry in store.assets.queued():
            entries.setdefault(entry.dag_id, {})[entry.uri] = entry
        # Every asset must have been updated, or the schedule's condition (| and &) met.
        due = sorted(
            dag_id for dag_id in schedules
            if dag_id not in paused and _is_due(dags[dag_id], set(entries.get(dag_id, ())))
        )
        created = []
        for dag_id in due:
            queued = entries[dag_id]
            run = create_asset_triggered_run(
                store, dags[dag_id], [queued[uri] for uri in schedules[dag_id] if uri in queued],
                now,
            )
            if run is not None:
                created.append(run)
        return created


def _is_due(dag: DagView, updated: set[str]) -> bool:
    timetable = dag.timetable
    return isinstance(timetable, AssetTriggered) and timetable.is_due(updated)


def create_asset_triggered_run(
    store: Store, dag: DagView, entries: list[AssetQueueRecord], now: datetime
) -> DagRunRecord | None:
    """Consume the DAG's queue entries and create its run from the events they stand for.

    A DAG whose params need a value the (empty) conf cannot give gets no run: that is
    logged, and its queue is left for when the DAG is fixed.
    """
    try:
        dag.resolve_params({})
    except ParamValidationError as exc:
        log.warning("DAG %s is due on its assets but cannot run without a conf: %s",
                    dag.dag_id, exc)
        return None
    events = store.assets.consume(entries)
    run = create_run(store, dag, now, interval_of(events, now), now, RUN_TYPE,
                     run_id=make_run_id(RUN_TYPE, now))
    store.assets.link_run(run.dag_id, run.run_id, [event.id for event in events])
    log.info("DAG %s: run %s from %d asset event(s) of %s", dag.dag_id, run.run_id,
             len(events), ", ".join(sorted({e.uri for e in events})))
    return run


__all__ = [
    "RUN_TYPE",
    "AssetScheduling",
    "create_asset_triggered_run",
    "due_dags",
    "interval_of",
    "record_outlet_events",
    "scheduled_assets",
]
