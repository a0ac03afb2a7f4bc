"""The store contract for a try's end: the instance's outcome and its history row together
(every store; PostgreSQL writes both in one statement)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from millstream.exceptions import StaleRecordError
from millstream.model.states import TaskState
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord, TaskTryRecord

START = datetime(2026, 3, 1, 12, tzinfo=UTC)
END = START + timedelta(seconds=3)


def _running(store: Store) -> TaskInstanceRecord:
    run = DagRunRecord("etl", "manual__1", START, START, START, run_type="manual")
    ti = TaskInstanceRecord("etl", run.run_id, "load")
    with store.transaction():
        store.runs.add(run)
        store.task_instances.add_many([ti])
        ti = store.task_instances.set_state(ti, TaskState.SCHEDULED)
        queued = store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                            try_number=1, step_id="s1")
        assert queued is not None
        return store.task_instances.set_state(queued, TaskState.RUNNING, start_date=START,
                                              hostname="worker-1", pid=42)


def test_a_try_ends_with_its_outcome_and_its_history_row(store: Store) -> None:
    running = _running(store)
    with store.transaction():
        ended = store.task_instances.end_try(running, TaskState.FAILED, end_date=END,
                                             error="boom")
    assert (ended.state, ended.end_date, ended.error, ended.start_date) == (
        TaskState.FAILED, END, "boom", START)
    with store.transaction():
        stored = store.task_instances.get(running.key)
        tries = store.task_instances.tries(running.key)
    assert stored == ended
    assert tries == [TaskTryRecord(running.key, 1, TaskState.FAILED, START, END, "boom")]


def test_an_outcome_for_a_moved_on_instance_writes_neither(store: Store) -> None:
    running = _running(store)
    with store.transaction():
        store.task_instances.set_state(running, TaskState.SUCCESS, end_date=END)  # marked
    with pytest.raises(StaleRecordError, match="changed since it was read"), \
            store.transaction():
        store.task_instances.end_try(running, TaskState.FAILED, end_date=END, error="late")
    with store.transaction():
        stored = store.task_instances.get(running.key)
        tries = store.task_instances.tries(running.key)
    assert stored is not None and (stored.state, stored.error) == (TaskState.SUCCESS, None)
    assert tries == []
