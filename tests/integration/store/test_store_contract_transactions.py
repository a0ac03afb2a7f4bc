"""The transaction contract, on every store kind: a transaction that raises leaves the store
exactly as it was, a record read cannot change the store, a read-only transaction refuses
every write, a repository refuses calls made outside a transaction, and state changes are
compare-and-sets on the state the record holds.

These tests get ``raw_store``, the store as production code gets it (no autocommit view).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from millstream.exceptions import StaleRecordError, StoreUsageError
from millstream.model.states import DagRunState, TaskState
from millstream.store.interfaces import Store
from millstream.store.records import (
    AuditRecord,
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)
from millstream.store.secrets_records import VariableRecord

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _run(day: int = 0, **fields: object) -> DagRunRecord:
    logical = DAY + timedelta(days=day)
    return DagRunRecord("etl", f"scheduled__{day}", logical, logical, logical + timedelta(days=1),
                        **fields)  # type: ignore[arg-type]


def _seed(store: Store) -> DagRunRecord:
    """A DAG, a run with two task instances (one scheduled), an XCom, a pool, a variable."""
    run = _run(conf={"region": "north", "ids": [1, 2]})
    with store.transaction():
        store.dags.upsert("etl", "/dags/etl.py", "{}", "v1", DAY)
        store.runs.add(run)
        store.task_instances.add_many([TaskInstanceRecord("etl", run.run_id, "a"),
                                       TaskInstanceRecord("etl", run.run_id, "b")])
        a = store.task_instances.get(TaskInstanceKey("etl", run.run_id, "a"))
        assert a is not None
        store.task_instances.set_state(a, TaskState.SCHEDULED)
        store.xcoms.set_many(TaskInstanceKey("etl", run.run_id, "a"), [("return_value", "1")])
        store.pools.set("db", 4)
        store.variables.set(VariableRecord("colour", "blue"))
    return run


def _picture(store: Store) -> dict[str, object]:
    """Everything _seed wrote and the test below changes, as plain values."""
    with store.transaction():
        runs = store.runs.list()
        key = TaskInstanceKey("etl", "scheduled__0", "a")
        dag = store.dags.get("etl")
        variable = store.variables.get("colour")
        return {
            "runs": [(r.run_id, r.state, r.conf, r.note) for r in runs],
            "instances": [(ti.label, ti.state, ti.try_number, ti.error) for r in runs
                          for ti in store.task_instances.for_run(r.dag_id, r.run_id)],
            "tries": store.task_instances.tries(key),
            "xcoms": store.xcoms.entries(key),
            "pools": store.pools.list(),
            "dag": (dag.is_paused, dag.latest_version) if dag else None,
            "variable": variable.value if variable else None,
            "audit": [(a.event, a.dag_id) for a in store.audit.list()],
            "triggers": [t.id for t in store.triggers.list()],
        }


def test_a_transaction_that_raises_leaves_the_store_exactly_as_it_was(raw_store: Store) -> None:
    run = _seed(raw_store)
    before = _picture(raw_store)
    key = TaskInstanceKey("etl", run.run_id, "a")
    with pytest.raises(RuntimeError, match="halfway"), raw_store.transaction():
        stored_run = raw_store.runs.get("etl", run.run_id)
        ti = raw_store.task_instances.get(key)
        assert stored_run is not None and ti is not None
        raw_store.runs.set_state(stored_run, DagRunState.RUNNING, note="changed")
        raw_store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED, try_number=1)
        raw_store.task_instances.record_try(TaskTryRecord(key, 1, TaskState.FAILED, DAY, DAY))
        raw_store.runs.add(_run(day=1))
        raw_store.task_instances.add_many([TaskInstanceRecord("etl", "scheduled__1", "c")])
        raw_store.xcoms.set_many(key, [("return_value", "2"), ("other", "3")])
        raw_store.pools.set("db", 0)
        raw_store.pools.set("extra", 9)
        raw_store.dags.set_paused("etl", True)
        raw_store.dags.upsert("etl", "/dags/etl.py", "{}", "v2", DAY)
        raw_store.variables.delete("colour")
        raw_store.audit.add(AuditRecord(DAY, "someone", "trigger", dag_id="etl"))
        raw_store.triggers.add("some.Trigger", {"n": 1}, DAY)
        assert _picture(raw_store) != before  # the changes were visible inside
        raise RuntimeError("halfway")
    assert _picture(raw_store) == before


def test_a_deleted_run_comes_back_with_everything_it_had_on_rollback(raw_store: Store) -> None:
    run = _seed(raw_store)
    before = _picture(raw_store)
    with pytest.raises(RuntimeError), raw_store.transaction():
        assert raw_store.runs.delete("etl", run.run_id)
        assert raw_store.task_instances.for_run("etl", run.run_id) == []
        raise RuntimeError("changed my mind")
    assert _picture(raw_store) == before


def test_changes_to_a_run_then_its_deletion_all_roll_back(raw_store: Store) -> None:
    run = _seed(raw_store)
    before = _picture(raw_store)
    key = TaskInstanceKey("etl", run.run_id, "a")
    with pytest.raises(RuntimeError), raw_store.transaction():
        ti = raw_store.task_instances.get(key)
        assert ti is not None
        queued = raw_store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED)
        assert queued is not None
        raw_store.task_instances.set_state(queued, TaskState.RUNNING, pid=1)
        raw_store.task_instances.record_try(TaskTryRecord(key, 1, TaskState.FAILED, DAY, DAY))
        raw_store.xcoms.set_many(key, [("return_value", "9")])
        raw_store.task_instances.heartbeat([key], DAY)
        assert raw_store.runs.delete("etl", run.run_id)
        raise RuntimeError("changed my mind")
    assert _picture(raw_store) == before
    with raw_store.transaction():
        ti = raw_store.task_instances.get(key)
    assert ti is not None and ti.heartbeat_at is None and ti.pid is None


def test_a_nested_transaction_joins_the_outer_one(raw_store: Store) -> None:
    run = _seed(raw_store)
    before = _picture(raw_store)
    with pytest.raises(RuntimeError), raw_store.transaction():
        with raw_store.transaction():
            stored = raw_store.runs.get("etl", run.run_id)
            assert stored is not None
            raw_store.runs.set_state(stored, DagRunState.RUNNING)
        # the inner block ended without error, but nothing is committed until the outer ends
        raise RuntimeError("the outer block fails")
    assert _picture(raw_store) == before
    with raw_store.transaction(), raw_store.transaction():
        stored = raw_store.runs.get("etl", run.run_id)
        assert stored is not None
        raw_store.runs.set_state(stored, DagRunState.RUNNING)
    with raw_store.transaction():
        stored = raw_store.runs.get("etl", run.run_id)
    assert stored is not None and stored.state is DagRunState.RUNNING


def test_a_read_only_transaction_reads_and_refuses_every_write(raw_store: Store) -> None:
    run = _seed(raw_store)
    before = _picture(raw_store)
    key = TaskInstanceKey("etl", run.run_id, "a")
    with raw_store.transaction(read_only=True):
        stored = raw_store.runs.get("etl", run.run_id)
        ti = raw_store.task_instances.get(key)
        assert stored is not None and stored.conf == {"region": "north", "ids": [1, 2]}
        assert ti is not None and ti.state is TaskState.SCHEDULED
    writes = [
        lambda: raw_store.runs.set_state(stored, DagRunState.RUNNING),
        lambda: raw_store.task_instances.set_state(ti, TaskState.QUEUED),
        lambda: raw_store.task_instances.add_many([TaskInstanceRecord("etl", run.run_id, "z")]),
        lambda: raw_store.pools.set("db", 9),
        lambda: raw_store.variables.set(VariableRecord("colour", "red")),
        lambda: raw_store.dags.set_paused("etl", True),
    ]
    for write in writes:
        with pytest.raises(StoreUsageError, match="read-only store transaction cannot write"), \
                raw_store.transaction(read_only=True):
            write()
    assert _picture(raw_store) == before
    # The connection a read-only transaction used writes again in an ordinary one.
    with raw_store.transaction():
        raw_store.runs.set_state(stored, DagRunState.RUNNING)
    with raw_store.transaction(read_only=True):
        again = raw_store.runs.get("etl", run.run_id)
    assert again is not None and again.state is DagRunState.RUNNING


def test_records_read_cannot_change_the_store(raw_store: Store) -> None:
    run = _seed(raw_store)
    key = TaskInstanceKey("etl", run.run_id, "a")
    with raw_store.transaction():
        read = raw_store.runs.get("etl", run.run_id)
        ti = raw_store.task_instances.get(key)
        listed = raw_store.runs.list("etl")
    assert read is not None and ti is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        ti.state = TaskState.SUCCESS  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        read.state = DagRunState.SUCCESS  # type: ignore[misc]
    read.conf["region"] = "south"  # a record's conf is the reader's own copy
    read.conf["ids"].append(3)
    listed[0].conf.clear()
    run.conf["region"] = "east"  # so is the conf of the record that was added
    with raw_store.transaction():
        again = raw_store.runs.get("etl", run.run_id)
        ti_again = raw_store.task_instances.get(key)
    assert again is not None and again.conf == {"region": "north", "ids": [1, 2]}
    assert ti_again is not None and ti_again.state is TaskState.SCHEDULED


def test_deferral_kwargs_read_are_the_readers_own(raw_store: Store) -> None:
    run = _seed(raw_store)
    key = TaskInstanceKey("etl", run.run_id, "a")
    kwargs = {"event": {"moment": "soon"}}
    with raw_store.transaction():
        ti = raw_store.task_instances.get(key)
        assert ti is not None
        raw_store.task_instances.set_state(ti, TaskState.NONE, next_method="resume",
                                           next_kwargs=kwargs)
    kwargs["event"]["moment"] = "changed by the caller"
    with raw_store.transaction():
        read = raw_store.task_instances.get(key)
    assert read is not None and read.next_kwargs == {"event": {"moment": "soon"}}
    assert read.next_kwargs is not None
    read.next_kwargs["event"]["moment"] = "changed by the reader"
    with raw_store.transaction():
        again = raw_store.task_instances.get(key)
    assert again is not None and again.next_kwargs == {"event": {"moment": "soon"}}


def test_a_repository_used_outside_a_transaction_raises(raw_store: Store) -> None:
    run = _seed(raw_store)
    outside = r"was called outside store\.transaction\(\)"
    with pytest.raises(StoreUsageError, match=r"RunRepo\.get\(\) " + outside):
        raw_store.runs.get("etl", run.run_id)
    with pytest.raises(StoreUsageError, match=outside):
        raw_store.task_instances.add_many([TaskInstanceRecord("etl", run.run_id, "z")])
    with pytest.raises(StoreUsageError):
        raw_store.xcoms.get_xcom("etl", run.run_id, "a", -1, "return_value")
    with pytest.raises(StoreUsageError):
        raw_store.dags.set_paused("etl", True)
    with pytest.raises(StoreUsageError):
        raw_store.pools.list()
    with raw_store.transaction():  # nothing of the refused calls was written
        assert raw_store.task_instances.get(TaskInstanceKey("etl", run.run_id, "z")) is None
        dag = raw_store.dags.get("etl")
        assert dag is not None and not dag.is_paused


def test_a_claim_is_won_once_and_returns_the_claimed_record(raw_store: Store) -> None:
    run = _seed(raw_store)
    key = TaskInstanceKey("etl", run.run_id, "a")
    with raw_store.transaction():
        mine = raw_store.task_instances.get(key)
        theirs = raw_store.task_instances.get(key)
    assert mine is not None and theirs is not None
    with raw_store.transaction():
        won = raw_store.task_instances.claim(mine, TaskState.SCHEDULED, TaskState.QUEUED,
                                             try_number=1, hostname="w1")
        lost = raw_store.task_instances.claim(theirs, TaskState.SCHEDULED, TaskState.QUEUED,
                                              try_number=2)
    assert won is not None and (won.state, won.try_number, won.hostname) == (
        TaskState.QUEUED, 1, "w1")
    assert lost is None
    with raw_store.transaction():
        stored = raw_store.task_instances.get(key)
    assert stored == won


def test_a_change_from_a_stale_record_is_refused(raw_store: Store) -> None:
    run = _seed(raw_store)
    key = TaskInstanceKey("etl", run.run_id, "a")
    with raw_store.transaction():
        stale = raw_store.task_instances.get(key)
        stale_run = raw_store.runs.get("etl", run.run_id)
        assert stale is not None and stale_run is not None
        raw_store.task_instances.set_state(stale, TaskState.NONE)  # cleared meanwhile
        raw_store.runs.set_state(stale_run, DagRunState.RUNNING)
    with pytest.raises(StaleRecordError, match=r"record says 'scheduled'.*says 'none'"), \
            raw_store.transaction():
        raw_store.task_instances.set_state(stale, TaskState.QUEUED)
    with pytest.raises(StaleRecordError, match="changed since it was read"), \
            raw_store.transaction():
        raw_store.runs.set_state(stale_run, DagRunState.FAILED)
    ghost = TaskInstanceRecord("etl", run.run_id, "ghost")
    with pytest.raises(StaleRecordError, match="not in the store"), raw_store.transaction():
        raw_store.task_instances.set_state(ghost, TaskState.SCHEDULED)
    with raw_store.transaction():
        stored = raw_store.task_instances.get(key)
        stored_run = raw_store.runs.get("etl", run.run_id)
    assert stored is not None and stored.state is TaskState.NONE
    assert stored_run is not None and stored_run.state is DagRunState.RUNNING
