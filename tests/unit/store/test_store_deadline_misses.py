"""The deadline-miss repository: one record per miss, on every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from millstream.store.deadline_records import DEADLINE, SLA, DeadlineMissRecord
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _run(store: Store, run_id: str, dag_id: str = "etl") -> DagRunRecord:
    run = DagRunRecord(dag_id, run_id, DAY + timedelta(days=len(run_id)), DAY, DAY)
    with store.transaction():
        store.runs.add(run)
    return run


def _miss(run: DagRunRecord, task_id: str = "", kind: str = DEADLINE,
          minutes: int = 0) -> DeadlineMissRecord:
    return DeadlineMissRecord(run.dag_id, run.run_id, task_id, kind,
                              DAY + timedelta(minutes=minutes), DAY + timedelta(hours=minutes))


def test_a_miss_is_recorded_once(store: Store) -> None:
    run = _run(store, "r1")
    with store.transaction():
        assert store.deadline_misses.add(_miss(run)) is True
        assert store.deadline_misses.add(_miss(run)) is False
        assert store.deadline_misses.add(_miss(run, "load", SLA)) is True
        assert store.deadline_misses.add(_miss(run, minutes=5)) is True  # a second alert
    assert store.deadline_misses.count() == 3
    assert store.deadline_misses.for_run("etl", "r1") == [
        _miss(run), _miss(run, "load", SLA), _miss(run, minutes=5)]


def test_latest_is_newest_first_and_filters_by_dag(store: Store) -> None:
    first, other = _run(store, "r1"), _run(store, "r22", dag_id="other")
    with store.transaction():
        store.deadline_misses.add(_miss(first, minutes=1))
        store.deadline_misses.add(_miss(other, minutes=2))
        store.deadline_misses.add(_miss(first, "t", SLA, minutes=3))
    assert [m.deadline.minute for m in store.deadline_misses.latest()] == [3, 2, 1]
    assert [m.deadline.minute for m in store.deadline_misses.latest(1)] == [3]
    assert [m.run_id for m in store.deadline_misses.latest(dag_id="other")] == ["r22"]


def test_a_failed_transaction_records_nothing(store: Store) -> None:
    run = _run(store, "r1")
    with pytest.raises(RuntimeError), store.transaction():
        store.deadline_misses.add(_miss(run))
        raise RuntimeError("rolled back")
    assert store.deadline_misses.count() == 0


def test_count_of_one_dag(store: Store) -> None:
    first, other = _run(store, "r1"), _run(store, "r22", dag_id="other")
    with store.transaction():
        store.deadline_misses.add(_miss(first))
        store.deadline_misses.add(_miss(first, "t", SLA))
        store.deadline_misses.add(_miss(other))
    assert (store.deadline_misses.count(), store.deadline_misses.count("etl"),
            store.deadline_misses.count("nope")) == (3, 2, 0)
