"""The store contract for assets: references, events, DAG queues and their consumption.

Each test runs once per store kind (memory, SQLite, PostgreSQL) through the ``store``
fixture; the races between schedulers need two sessions, so they run on the SQL stores.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from tests.autocommit import autocommit

from millstream.exceptions import StaleRecordError
from millstream.store.asset_records import AssetEventRecord, AssetQueueRecord, AssetRecord
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey
from millstream.store.sql import SqlStore

DAY = datetime(2026, 1, 1, tzinfo=UTC)
SALES = AssetRecord("warehouse.sales_fact", "sales", {"format": "parquet"})
CUSTOMERS = AssetRecord("warehouse.customers", "warehouse.customers")


def _dags(store: Store, *dag_ids: str) -> None:
    with store.transaction():
        for dag_id in dag_ids:
            store.dags.upsert(dag_id, f"/dags/{dag_id}.py", "{}", "v1", DAY)


def _source(task_id: str = "load", run_id: str = "manual__1", map_index: int = -1
            ) -> TaskInstanceKey:
    return TaskInstanceKey("producer", run_id, task_id, map_index)


def test_references_record_assets_producers_and_consumers(store: Store) -> None:
    _dags(store, "producer", "report")
    with store.transaction():
        store.assets.set_references("producer", [], {"load": [SALES], "noop": []}, DAY)
        store.assets.set_references("report", [SALES, CUSTOMERS], {}, DAY)
    assets = store.assets.list()
    assert [(a.uri, a.name, a.extra) for a in assets] == [
        ("warehouse.customers", "warehouse.customers", {}),
        ("warehouse.sales_fact", "sales", {"format": "parquet"}),
    ]
    assert all(a.created == DAY and a.id is not None for a in assets)
    refs = {r.uri: r for r in store.assets.references()}
    assert refs["warehouse.sales_fact"].producing_tasks == (("producer", "load"),)
    assert refs["warehouse.sales_fact"].consuming_dags == ("report",)
    assert refs["warehouse.customers"].producing_tasks == ()
    assert refs["warehouse.customers"].consuming_dags == ("report",)

    # A new version of a DAG replaces its references; the asset's name and extra follow.
    renamed = AssetRecord("warehouse.sales_fact", "sales v2", {"format": "delta"})
    with store.transaction():
        store.assets.set_references("report", [renamed], {}, DAY + timedelta(days=1))
        store.assets.set_references("producer", [], {}, DAY + timedelta(days=1))
    refs = {r.uri: r for r in store.assets.references()}
    assert refs["warehouse.customers"].consuming_dags == ()
    assert refs["warehouse.sales_fact"].producing_tasks == ()
    got = store.assets.get("warehouse.sales_fact")
    assert got is not None and (got.name, got.extra, got.created) == (
        "sales v2", {"format": "delta"}, DAY)
    assert store.assets.get("nope") is None


def test_an_event_queues_its_asset_for_active_unpaused_consumers_once(store: Store) -> None:
    _dags(store, "report", "audit", "paused", "gone")
    with store.transaction():
        for dag_id in ("report", "audit", "paused", "gone"):
            store.assets.set_references(dag_id, [SALES], {}, DAY)
        store.dags.set_paused("paused", True)
        store.dags.deactivate_missing([], ["/dags/gone.py"])
    with store.transaction():
        first = store.assets.record_event(SALES.uri, DAY, _source(), {"rows": 10})
    with store.transaction():
        second = store.assets.record_event(SALES.uri, DAY + timedelta(hours=1), _source())
    assert second.id > first.id
    assert (first.uri, first.timestamp, first.source_dag_id, first.source_run_id,
            first.source_task_id, first.source_map_index, first.extra) == (
        SALES.uri, DAY, "producer", "manual__1", "load", -1, {"rows": 10})
    queued = store.assets.queued()
    assert queued == [
        AssetQueueRecord("audit", SALES.uri, first.id, DAY),
        AssetQueueRecord("report", SALES.uri, first.id, DAY),
    ]
    assert store.assets.queued("report") == [queued[1]]
    assert store.assets.queued("nobody") == []


def test_an_event_of_an_unknown_asset_adds_it(store: Store) -> None:
    with store.transaction():
        event = store.assets.record_event("s3://lake/new", DAY)
    assert (event.source_dag_id, event.source_task_id, event.source_map_index) == (
        None, None, -1)
    asset = store.assets.get("s3://lake/new")
    assert asset is not None and (asset.name, asset.extra, asset.created) == (
        "s3://lake/new", {}, DAY)


def test_events_are_listed_newest_first_per_asset_and_limited(store: Store) -> None:
    with store.transaction():
        for i in range(5):
            uri = SALES.uri if i % 2 == 0 else CUSTOMERS.uri
            store.assets.record_event(uri, DAY + timedelta(minutes=i), _source(map_index=i))
    everything = store.assets.events()
    assert [e.source_map_index for e in everything] == [4, 3, 2, 1, 0]
    assert [e.source_map_index for e in store.assets.events(limit=2)] == [4, 3]
    assert [e.source_map_index for e in store.assets.events(SALES.uri)] == [4, 2, 0]
    assert [e.source_map_index for e in store.assets.events(CUSTOMERS.uri, limit=1)] == [3]
    assert store.assets.events("nope") == []


def test_consuming_removes_the_entries_and_returns_their_events(store: Store) -> None:
    _dags(store, "report")
    with store.transaction():
        store.assets.set_references("report", [SALES, CUSTOMERS], {}, DAY)
        store.assets.record_event(CUSTOMERS.uri, DAY - timedelta(days=1))  # before: queued
        store.assets.record_event(SALES.uri, DAY, _source())
        store.assets.record_event(SALES.uri, DAY + timedelta(hours=2), _source(run_id="m2"))
        store.assets.record_event(CUSTOMERS.uri, DAY + timedelta(hours=1))
    entries = store.assets.queued("report")
    assert [e.uri for e in entries] == [CUSTOMERS.uri, SALES.uri]
    with store.transaction():
        consumed = store.assets.consume(entries)
    assert [(e.uri, e.timestamp) for e in consumed] == [
        (CUSTOMERS.uri, DAY - timedelta(days=1)), (SALES.uri, DAY),
        (SALES.uri, DAY + timedelta(hours=2)), (CUSTOMERS.uri, DAY + timedelta(hours=1)),
    ]
    assert store.assets.queued() == []
    with store.transaction():
        later = store.assets.record_event(SALES.uri, DAY + timedelta(days=1))
    assert store.assets.queued("report") == [
        AssetQueueRecord("report", SALES.uri, later.id, DAY + timedelta(days=1))]
    assert store.assets.consume([]) == []


def _queue_two(store: Store) -> list[AssetQueueRecord]:
    _dags(store, "report")
    with store.transaction():
        store.assets.set_references("report", [SALES, CUSTOMERS], {}, DAY)
        store.assets.record_event(SALES.uri, DAY)
        store.assets.record_event(CUSTOMERS.uri, DAY)
    return store.assets.queued("report")


def test_entries_consumed_by_another_scheduler_are_stale_and_nothing_changes(
    sql_engine: Engine,
) -> None:
    first, second = autocommit(SqlStore(sql_engine)), autocommit(SqlStore(sql_engine))
    try:
        seen_by_first = _queue_two(first)
        seen_by_second = second.assets.queued("report")
        assert seen_by_second == seen_by_first and len(seen_by_first) == 2
        with first.transaction():
            first.assets.consume(seen_by_first[1:])  # only the second entry
        with pytest.raises(StaleRecordError, match="consumed by someone else"), \
                second.transaction():
            second.assets.consume(seen_by_second)
        # The entry the second could still take is back: its transaction rolled back.
        assert second.assets.queued("report") == seen_by_first[:1]
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("sql_engine", ["postgres"], indirect=True)
def test_on_postgresql_a_concurrent_consume_waits_for_the_first_then_finds_nothing(
    sql_engine: Engine,
) -> None:
    first, second = autocommit(SqlStore(sql_engine)), autocommit(SqlStore(sql_engine))
    outcome: list[BaseException | list[AssetEventRecord]] = []
    backend: list[int] = []

    def consume_in_second() -> None:
        try:
            with second.transaction():
                backend.append(second.session.execute(text("SELECT pg_backend_pid()")).scalar())
                outcome.append(second.assets.consume(entries))
        except BaseException as exc:
            outcome.append(exc)

    try:
        entries = _queue_two(first)
        with first.transaction():
            assert len(first.assets.consume(entries)) == 2
            thread = threading.Thread(target=consume_in_second)
            thread.start()
            _wait_until_blocked(first, backend)
        thread.join()
        assert len(outcome) == 1 and isinstance(outcome[0], StaleRecordError), outcome
        assert first.assets.queued() == []
    finally:
        first.close()
        second.close()


def _wait_until_blocked(observer: SqlStore, backend: list[int]) -> None:
    """Until the other session waits for a row lock this transaction holds."""
    with observer.engine.connect() as connection:
        for _ in range(600):
            if backend and connection.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                {"pid": backend[0]},
            ).scalar() == "Lock":
                return
            connection.rollback()
            threading.Event().wait(0.05)
    pytest.fail("the second consume never waited for the first one's row locks")


def test_runs_remember_the_events_they_came_from_until_deleted(store: Store) -> None:
    run = DagRunRecord("report", "asset_triggered__1", DAY, DAY, DAY,
                       run_type="asset_triggered")
    with store.transaction():
        store.runs.add(run)
        events = [store.assets.record_event(SALES.uri, DAY + timedelta(minutes=i))
                  for i in range(3)]
        store.assets.link_run("report", run.run_id, [events[2].id, events[0].id])
        store.assets.link_run("report", run.run_id, [events[0].id])  # twice: kept once
    assert store.assets.run_events("report", run.run_id) == [events[0], events[2]]
    assert store.assets.run_events("report", "other") == []
    with store.transaction():
        assert store.runs.delete("report", run.run_id)
    assert store.assets.run_events("report", run.run_id) == []
    assert len(store.assets.events()) == 3  # the events outlive the run


def test_sql_stores_refuse_naive_timestamps(sql_store: SqlStore) -> None:
    store = sql_store
    with pytest.raises(ValueError, match="naive datetime"):
        store.assets.record_event(SALES.uri, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="naive datetime"):
        store.assets.set_references("report", [SALES], {}, datetime(2026, 1, 1))
    assert store.assets.list() == []
