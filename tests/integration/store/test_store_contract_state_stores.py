"""The store contract for the task and asset state stores (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord
from millstream.store.state_store_records import TaskStateScope

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
RUN = "manual__2026-01-01"


def _run(store: Store, dag_id: str = "etl", run_id: str = RUN) -> None:
    store.dags.upsert(dag_id, f"/dags/{dag_id}.py", "{}", "v1", NOW)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    store.runs.add(DagRunRecord(dag_id=dag_id, run_id=run_id, logical_date=start,
                                data_interval_start=start, data_interval_end=start,
                                run_type="manual"))


def test_task_state_is_kept_per_task_instance(store: Store) -> None:
    with store.transaction():
        _run(store)
    first, second = TaskStateScope("etl", RUN, "load", 0), TaskStateScope("etl", RUN, "load", 1)
    with store.transaction():
        store.state_stores.set_task_state(first, "job", '"a"', None, NOW)
        store.state_stores.set_task_state(second, "job", '"b"', None, NOW)
        store.state_stores.set_task_state(first, "job", '"a2"', None, NOW)  # replaces
    with store.transaction():
        assert store.state_stores.get_task_state(first, "job", NOW) == '"a2"'
        assert store.state_stores.get_task_state(second, "job", NOW) == '"b"'
        assert store.state_stores.get_task_state(
            TaskStateScope("etl", RUN, "load"), "job", NOW) is None
        assert store.state_stores.task_state_keys(first, NOW) == ["job"]


def test_an_expired_task_state_key_is_gone_and_purged(store: Store) -> None:
    scope = TaskStateScope("etl", RUN, "load")
    with store.transaction():
        _run(store)
        store.state_stores.set_task_state(scope, "short", "1", NOW + timedelta(hours=1), NOW)
        store.state_stores.set_task_state(scope, "forever", "2", None, NOW)
    later = NOW + timedelta(hours=2)
    with store.transaction():
        assert store.state_stores.get_task_state(scope, "short", NOW) == "1"
        assert store.state_stores.get_task_state(scope, "short", later) is None
        assert store.state_stores.task_state_keys(scope, later) == ["forever"]
        assert store.state_stores.purge_expired(later) == 1
    with store.transaction():
        assert store.state_stores.task_state_keys(scope, NOW) == ["forever"]
        assert store.state_stores.purge_expired(later) == 0


def test_delete_and_clear_task_state(store: Store) -> None:
    scope = TaskStateScope("etl", RUN, "load")
    other = TaskStateScope("etl", RUN, "other")
    with store.transaction():
        _run(store)
        for key in ("a", "b", "c"):
            store.state_stores.set_task_state(scope, key, "0", None, NOW)
        store.state_stores.set_task_state(other, "a", "0", None, NOW)
    with store.transaction():
        store.state_stores.delete_task_state(scope, "a")
        store.state_stores.delete_task_state(scope, "missing")  # no error
    with store.transaction():
        assert store.state_stores.task_state_keys(scope, NOW) == ["b", "c"]
        assert store.state_stores.clear_task_state(scope) == 2
    with store.transaction():
        assert store.state_stores.task_state_keys(scope, NOW) == []
        assert store.state_stores.task_state_keys(other, NOW) == ["a"]


def test_task_state_goes_with_its_run(store: Store) -> None:
    scope = TaskStateScope("etl", RUN, "load")
    with store.transaction():
        _run(store)
        store.state_stores.set_task_state(scope, "job", "1", None, NOW)
    with store.transaction():
        assert store.runs.delete("etl", RUN)
    with store.transaction():
        assert store.state_stores.get_task_state(scope, "job", NOW) is None


def test_a_failed_transaction_leaves_task_state_unchanged(store: Store) -> None:
    scope = TaskStateScope("etl", RUN, "load")
    with store.transaction():
        _run(store)
        store.state_stores.set_task_state(scope, "job", "1", None, NOW)
    try:
        with store.transaction():
            store.state_stores.set_task_state(scope, "job", "2", None, NOW)
            store.state_stores.set_task_state(scope, "new", "3", None, NOW)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with store.transaction():
        assert store.state_stores.get_task_state(scope, "job", NOW) == "1"
        assert store.state_stores.task_state_keys(scope, NOW) == ["job"]


def test_asset_state_is_kept_per_asset_until_deleted(store: Store) -> None:
    with store.transaction():
        store.state_stores.set_asset_state("s3://lake/orders", "watermark", '"w1"', NOW)
        store.state_stores.set_asset_state("s3://lake/orders", "runs", "1", NOW)
        store.state_stores.set_asset_state("s3://lake/users", "runs", "5", NOW)
        store.state_stores.set_asset_state("s3://lake/orders", "runs", "2", NOW)
    with store.transaction():
        assert store.state_stores.get_asset_state("s3://lake/orders", "runs") == "2"
        assert store.state_stores.get_asset_state("s3://lake/users", "runs") == "5"
        assert store.state_stores.get_asset_state("s3://lake/none", "runs") is None
        assert store.state_stores.asset_state_keys("s3://lake/orders") == ["runs", "watermark"]
        store.state_stores.delete_asset_state("s3://lake/orders", "runs")
        store.state_stores.delete_asset_state("s3://lake/orders", "missing")
    with store.transaction():
        assert store.state_stores.asset_state_keys("s3://lake/orders") == ["watermark"]
        assert store.state_stores.clear_asset_state("s3://lake/orders") == 1
        assert store.state_stores.asset_state_keys("s3://lake/orders") == []
        assert store.state_stores.asset_state_keys("s3://lake/users") == ["runs"]
