"""The store contract for due DAGs, unfinished instances and the dispatch lock (every store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from tests.autocommit import autocommit

from millstream.model.states import TaskState
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.store.sql import SqlStore

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _dag(store: Store, dag_id: str, version: str = "v1") -> None:
    store.dags.upsert(dag_id, f"/dags/{dag_id}.py", "{}", version, NOW)


def _run(dag_id: str = "etl", day: int = 0) -> DagRunRecord:
    logical = NOW + timedelta(days=day)
    return DagRunRecord(dag_id=dag_id, run_id=f"scheduled__{day}", logical_date=logical,
                        data_interval_start=logical, data_interval_end=logical,
                        run_type="scheduled")


def test_a_new_dag_is_due_at_once_and_then_when_its_moment_comes(store: Store) -> None:
    with store.transaction():
        _dag(store, "etl")
        _dag(store, "report")
        assert store.dags.due(NOW) == ["etl", "report"]
        store.dags.set_next_due("etl", NOW + timedelta(minutes=1))
        store.dags.set_next_due("report", None)  # no scheduled run will ever be due
    with store.transaction():
        assert store.dags.due(NOW) == []
        assert store.dags.due(NOW + timedelta(seconds=59)) == []
        assert store.dags.due(NOW + timedelta(minutes=1)) == ["etl"]


def test_a_reparse_keeps_the_moment_and_a_new_version_makes_the_dag_due(store: Store) -> None:
    with store.transaction():
        _dag(store, "etl")
        store.dags.set_next_due("etl", NOW + timedelta(hours=1))
        _dag(store, "etl")  # the same version parsed again
        assert store.dags.due(NOW) == []
        _dag(store, "etl", "v2")
        assert store.dags.due(NOW) == ["etl"]


def test_paused_and_inactive_dags_are_never_due_and_unpausing_makes_one_due(
    store: Store,
) -> None:
    with store.transaction():
        _dag(store, "etl")
        _dag(store, "gone")
        store.dags.set_paused("etl", True)
        store.dags.deactivate_missing([], ["/dags/gone.py"])
        assert store.dags.due(NOW) == []
    with store.transaction():
        store.dags.set_next_due("etl", NOW + timedelta(days=1))
        store.dags.set_paused("etl", False)
        assert store.dags.due(NOW) == ["etl"]
        _dag(store, "gone")  # back in its file
        assert store.dags.due(NOW) == ["etl", "gone"]


def test_deleting_a_run_makes_its_dag_due(store: Store) -> None:
    with store.transaction():
        _dag(store, "etl")
        store.runs.add(_run())
        store.dags.set_next_due("etl", NOW + timedelta(days=1))
    with store.transaction():
        assert not store.runs.delete("etl", "no-such-run")
        assert store.dags.due(NOW) == []
        assert store.runs.delete("etl", "scheduled__0")
        assert store.dags.due(NOW) == ["etl"]


def test_a_moment_set_in_a_rolled_back_transaction_is_not_kept(store: Store) -> None:
    with store.transaction():
        _dag(store, "etl")
    try:
        with store.transaction():
            store.dags.set_next_due("etl", NOW + timedelta(days=1))
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with store.transaction():
        assert store.dags.due(NOW) == ["etl"]


def test_has_unfinished_looks_only_at_unfinished_instances(store: Store) -> None:
    with store.transaction():
        _dag(store, "etl")
        store.runs.add(_run())
        store.task_instances.add_many(
            TaskInstanceRecord("etl", "scheduled__0", f"t{i}") for i in range(3))
        assert store.task_instances.has_unfinished("etl", "scheduled__0")
        assert not store.task_instances.has_unfinished("etl", "no-such-run")
        for ti in store.task_instances.for_run("etl", "scheduled__0"):
            store.task_instances.set_state(ti, TaskState.SKIPPED)
        assert not store.task_instances.has_unfinished("etl", "scheduled__0")


def test_the_dispatch_lock_is_held_by_one_transaction_at_a_time(
    clean_postgres_engine: Engine,
) -> None:
    """PostgreSQL only: SQLite runs one write transaction at a time anyway."""
    first = autocommit(SqlStore(clean_postgres_engine))
    second = autocommit(SqlStore(clean_postgres_engine))
    try:
        with first.transaction():
            assert first.task_instances.lock_dispatch()
            assert first.task_instances.lock_dispatch()  # held already: taken again
            with second.transaction():
                assert not second.task_instances.lock_dispatch()
        with second.transaction():  # the first transaction ended: the lock is free
            assert second.task_instances.lock_dispatch()
    finally:
        first.close()
        second.close()


def test_mark_running_changes_only_a_queued_instance_of_the_same_try(store: Store) -> None:
    key = TaskInstanceRecord("etl", "scheduled__0", "t").key
    with store.transaction():
        _dag(store, "etl")
        store.runs.add(_run())
        store.task_instances.add_many([TaskInstanceRecord("etl", "scheduled__0", "t")])
        assert not store.task_instances.mark_running(key, 1, NOW, "host", 7)  # not queued
        ti = store.task_instances.get(key)
        assert ti is not None
        store.task_instances.set_state(ti, TaskState.SCHEDULED)
        ti = store.task_instances.get(key)
        assert ti is not None
        store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED, try_number=1)
        assert not store.task_instances.mark_running(key, 2, NOW, "host", 7)  # another try
        assert store.task_instances.mark_running(key, 1, NOW, "host", 7)
        assert not store.task_instances.mark_running(key, 1, NOW, "host", 8)  # running now
    with store.transaction():
        ti = store.task_instances.get(key)
    assert ti is not None
    assert (ti.state, ti.start_date, ti.hostname, ti.pid) == (TaskState.RUNNING, NOW, "host", 7)


def test_next_due_after_is_the_first_moment_to_come_of_an_active_unpaused_dag(
    store: Store,
) -> None:
    with store.transaction():
        for dag_id in ("etl", "report", "paused", "late", "never"):
            _dag(store, dag_id)
        assert store.dags.next_due_after(NOW) is None  # every DAG is due already
        store.dags.set_next_due("etl", NOW + timedelta(minutes=5))
        store.dags.set_next_due("report", NOW + timedelta(minutes=1))
        store.dags.set_next_due("paused", NOW + timedelta(seconds=10))
        store.dags.set_paused("paused", True)
        store.dags.set_next_due("late", NOW)  # due now: not a moment to come
        store.dags.set_next_due("never", None)
    with store.transaction():
        assert store.dags.next_due_after(NOW) == NOW + timedelta(minutes=1)
        assert store.dags.next_due_after(NOW + timedelta(minutes=1)) == NOW + timedelta(minutes=5)
        assert store.dags.next_due_after(NOW + timedelta(minutes=5)) is None
