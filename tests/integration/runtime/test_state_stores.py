"""``task_state_store`` and ``asset_state_store`` in tasks: through dag.test(), and the
accessors over every store kind (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from millstream import DAG, NEVER_EXPIRE, Asset, task
from millstream.operators.python import PythonOperator
from millstream.runtime.state_stores import AssetStateStores, TaskStateStoreAccessor
from millstream.store.current import using_store
from millstream.store.interfaces import Store
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord
from millstream.store.state_store_records import TaskStateScope
from millstream.testing import run_dag_test

START = datetime(2026, 1, 1, tzinfo=UTC)
ORDERS = Asset("orders", uri="s3://warehouse/orders")


def test_a_retry_finds_what_the_failed_try_stored() -> None:
    with DAG("resume", schedule=None, start_date=START) as dag:
        @task(retries=2, retry_delay=timedelta(seconds=1))
        def submit(task_state_store: Any = None, ti: Any = None) -> list[Any]:
            job = task_state_store.get("job_id")
            if job is None:
                task_state_store.set("job_id", f"job-{ti.try_number}", retention=NEVER_EXPIRE)
                raise RuntimeError("lost the worker after submitting")
            return [job, ti.try_number]

        submit()
    result = run_dag_test(dag, logical_date=START, fast_retries=True)
    assert result.state == "success"
    assert result.xcom_pull("submit") == ["job-1", 2]  # reattached, not submitted again


def test_mapped_instances_each_have_their_own_task_state() -> None:
    with DAG("mapped_state", schedule=None, start_date=START) as dag:
        @task
        def count(n: int, task_state_store: Any = None) -> Any:
            task_state_store.set("seen", task_state_store.get("seen", default=0) + n)
            return task_state_store.get("seen")

        count.expand(n=[1, 10, 100])
    result = run_dag_test(dag, logical_date=START)
    assert result.state == "success"
    assert result.xcom_pull("count") == [1, 10, 100]


def test_asset_state_carries_a_watermark_from_run_to_run() -> None:
    with DAG("producer", schedule=None, start_date=START) as producer:
        @task(outlets=[ORDERS])
        def load(asset_state_store: Any = None) -> Any:
            state = asset_state_store[ORDERS]
            state.set("runs", state.get("runs", default=0) + 1)
            return state.get("runs")

        load()
    with DAG("reader", schedule=None, start_date=START) as reader:
        @task(inlets=[ORDERS])
        def read(**context: Any) -> Any:
            return context["asset_state_store"]["s3://warehouse/orders"].get("runs")

        read()
    store = MemoryStore(open_pools=True)
    assert run_dag_test(producer, logical_date=START, store=store).xcom_pull("load") == 1
    second = run_dag_test(producer, logical_date=START + timedelta(days=1), store=store)
    assert second.xcom_pull("load") == 2
    assert run_dag_test(reader, logical_date=START, store=store).xcom_pull("read") == 2


def test_a_task_without_assets_has_no_asset_state_store() -> None:
    seen: dict[str, Any] = {}

    def look(**context: Any) -> None:
        seen["has"] = "asset_state_store" in context

    with DAG("no_assets", schedule=None, start_date=START) as dag:
        PythonOperator(task_id="look", python_callable=look)
    assert run_dag_test(dag, logical_date=START).state == "success"
    assert seen == {"has": False}


def test_a_value_that_is_not_json_fails_the_task_naming_the_key() -> None:
    with DAG("bad_value", schedule=None, start_date=START) as dag:
        @task
        def keep(task_state_store: Any = None) -> None:
            task_state_store.set("when", datetime.now(UTC))

        keep()
    result = run_dag_test(dag, logical_date=START)
    assert result.task_states == {"keep": "failed"}
    (keep,) = result.tasks
    assert keep.error is not None and "key 'when' is not JSON" in keep.error


def _run(store: Store) -> str:
    run_id = "manual__2026-01-01"
    with store.transaction():
        store.dags.upsert("etl", "/dags/etl.py", "{}", "v1", START)
        store.runs.add(DagRunRecord(dag_id="etl", run_id=run_id, logical_date=START,
                                    data_interval_start=START, data_interval_end=START,
                                    run_type="manual"))
    return run_id


def test_the_accessors_over_every_store(raw_store: Store) -> None:
    run_id = _run(raw_store)
    with using_store(raw_store):
        state = TaskStateStoreAccessor(TaskStateScope("etl", run_id, "load"))
        state.set("job", {"id": 7, "tags": ["a"]}, retention=NEVER_EXPIRE)
        state.set("short", 1, retention=timedelta(hours=1))
        assert state.get("job") == {"id": 7, "tags": ["a"]}
        assert state.get("missing", default="none") == "none"
        assert state.keys() == ["job", "short"]
        state.delete("short")
        assert state.keys() == ["job"]
        state.clear()
        assert state.get("job") is None
        with pytest.raises(ValueError, match="must be positive"):
            state.set("job", 1, retention=0)

        assets = AssetStateStores([ORDERS])
        assets[ORDERS].set("watermark", "2026-01-01")
        assert assets["orders"].get("watermark") == "2026-01-01"  # by name, or by URI
        assert assets.get("watermark") == "2026-01-01"  # the task's only asset
        with pytest.raises(KeyError, match="inlets and outlets only"):
            assets[Asset("users")]
        assets[ORDERS].clear()
        assert assets[ORDERS].keys() == []


def test_asset_state_store_of_several_assets_needs_a_subscript() -> None:
    assets = AssetStateStores([ORDERS, Asset("users")])
    with pytest.raises(TypeError, match=r"say which: asset_state_store\[asset\]\.get"):
        assets.get("watermark")
