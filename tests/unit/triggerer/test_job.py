"""The triggerer job over a store: take triggers, run them, resume or fail their tasks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from millstream.model.states import TaskState
from millstream.store.memory import MemoryStore
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from millstream.triggerer.base import BaseTrigger, serialize_trigger
from millstream.triggerer.job import TriggererJob, TriggererTimings
from millstream.triggerer.serde import decode
from tests.autocommit import autocommit

from .sample_triggers import GateTrigger, RaisingTrigger, UnstorableEventTrigger, gate

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
RUN = DagRunRecord("etl", "manual__1", NOW, NOW, NOW)


@pytest.fixture
def store() -> MemoryStore:
    store = autocommit(MemoryStore())
    store.runs.add(RUN)
    return store


@pytest.fixture
def jobs() -> Iterator[list[TriggererJob]]:
    made: list[TriggererJob] = []
    yield made
    for job in made:
        job.runner.stop()


def new_job(jobs: list[TriggererJob], store: MemoryStore, triggerer_id: str,
            capacity: int = 100) -> TriggererJob:
    job = TriggererJob(store, capacity=capacity, triggerer_id=triggerer_id,
                       timings=TriggererTimings(stale_after=timedelta(seconds=30)))
    job.runner.start()
    jobs.append(job)
    return job


def defer(store: MemoryStore, task_id: str, trigger: BaseTrigger,
          timeout: datetime | None = None) -> TaskInstanceKey:
    """A running try of ``task_id`` that deferred on ``trigger`` (as the scheduler records it)."""
    ti = TaskInstanceRecord("etl", RUN.run_id, task_id, state=TaskState.RUNNING, try_number=1)
    store.task_instances.add_many([ti])
    classpath, kwargs = serialize_trigger(trigger)
    trigger_id = store.triggers.add(classpath, kwargs, NOW)
    store.task_instances.set_state(ti, TaskState.DEFERRED, trigger_id=trigger_id,
                                   trigger_timeout=timeout, next_method="execute_complete",
                                   next_kwargs={"n": 1})
    return ti.key


def instance(store: MemoryStore, key: TaskInstanceKey) -> TaskInstanceRecord:
    found = store.task_instances.get(key)
    assert found is not None
    return found


def until_outcome(job: TriggererJob) -> None:
    assert job.runner.wait(10), "no trigger ended"


def name() -> str:
    return f"gate-{uuid.uuid4().hex[:8]}"


def test_a_fired_trigger_resumes_its_task_with_the_event(
    store: MemoryStore, jobs: list[TriggererJob]
) -> None:
    opened = name()
    key = defer(store, "wait", GateTrigger(opened, {"rows": 3}))
    job = new_job(jobs, store, "host:1")
    assert job.tick(NOW) == 1
    assert instance(store, key).state is TaskState.DEFERRED
    gate(opened).set()
    until_outcome(job)
    job.tick(NOW)
    ti = instance(store, key)
    assert (ti.state, ti.try_number, ti.next_method, ti.trigger_id, ti.trigger_timeout) == (
        TaskState.SCHEDULED, 1, "execute_complete", None, None)
    assert ti.next_kwargs is not None
    assert decode(ti.next_kwargs) == {"n": 1, "event": {"name": opened, "rows": 3}}
    assert store.triggers.list() == []


def test_a_trigger_that_raises_fails_only_its_own_task(
    store: MemoryStore, jobs: list[TriggererJob]
) -> None:
    broken = defer(store, "broken", RaisingTrigger("no route to host"))
    waiting = defer(store, "waiting", GateTrigger(name()))
    job = new_job(jobs, store, "host:1")
    job.tick(NOW)
    until_outcome(job)
    job.tick(NOW)
    failed = instance(store, broken)
    assert (failed.state, failed.next_method) == (TaskState.SCHEDULED, "__fail__")
    assert failed.next_kwargs is not None
    assert failed.next_kwargs["error"] == "trigger failed: RuntimeError: no route to host"
    assert "Traceback" in failed.next_kwargs["traceback"]
    assert instance(store, waiting).state is TaskState.DEFERRED
    assert job.runner.running() == {instance(store, waiting).trigger_id}


def test_an_event_that_cannot_be_stored_fails_the_task(
    store: MemoryStore, jobs: list[TriggererJob]
) -> None:
    key = defer(store, "odd", UnstorableEventTrigger())
    job = new_job(jobs, store, "host:1")
    job.tick(NOW)
    until_outcome(job)
    job.tick(NOW)
    ti = instance(store, key)
    assert ti.next_method == "__fail__" and ti.next_kwargs is not None
    assert "cannot store a object value" in ti.next_kwargs["error"]


def test_a_deferral_past_its_timeout_fails_and_its_trigger_stops(
    store: MemoryStore, jobs: list[TriggererJob]
) -> None:
    key = defer(store, "slow", GateTrigger(name()), timeout=NOW + timedelta(minutes=5))
    job = new_job(jobs, store, "host:1")
    job.tick(NOW + timedelta(minutes=5))  # not past it yet
    assert instance(store, key).state is TaskState.DEFERRED
    assert len(job.runner.running()) == 1
    job.tick(NOW + timedelta(minutes=5, seconds=1))
    ti = instance(store, key)
    assert (ti.state, ti.next_method) == (TaskState.SCHEDULED, "__fail__")
    assert ti.next_kwargs is not None and ti.next_kwargs["timeout"] is True
    assert "did not fire before the deferral's timeout" in ti.next_kwargs["error"]
    assert store.triggers.list() == [] and job.runner.running() == set()


def test_capacity_bounds_the_triggers_run_at_once(
    store: MemoryStore, jobs: list[TriggererJob]
) -> None:
    names = [name() for _ in range(3)]
    keys = [defer(store, f"t{i}", GateTrigger(n)) for i, n in enumerate(names)]
    job = new_job(jobs, store, "host:1", capacity=2)
    assert job.tick(NOW) == 2
    first = instance(store, keys[0]).trigger_id
    assert len(job.runner.running()) == 2 and first in job.runner.running()
    gate(names[0]).set()
    until_outcome(job)
    assert job.tick(NOW) == 2  # the first one's slot went to the third
    assert instance(store, keys[0]).state is TaskState.SCHEDULED
    assert job.runner.running() == {instance(store, k).trigger_id for k in keys[1:]}


def test_a_silent_triggerers_triggers_are_taken_over_once_its_heartbeat_is_stale(
    store: MemoryStore, jobs: list[TriggererJob]
) -> None:
    opened = name()
    key = defer(store, "wait", GateTrigger(opened))
    crashed = new_job(jobs, store, "elsewhere:1")
    crashed.tick(NOW)
    crashed.runner.stop()  # killed: nothing given back
    successor = new_job(jobs, store, "elsewhere:2")
    assert successor.tick(NOW + timedelta(seconds=29)) == 0
    assert successor.tick(NOW + timedelta(seconds=31)) == 1
    gate(opened).set()
    until_outcome(successor)
    successor.tick(NOW + timedelta(seconds=32))
    assert instance(store, key).state is TaskState.SCHEDULED


def test_triggers_of_a_dead_triggerer_on_this_host_are_taken_at_once(
    store: MemoryStore, jobs: list[TriggererJob]
) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{finished.stdout.strip()}"
    defer(store, "wait", GateTrigger(name()))
    store.triggers.assign(dead, 10, NOW, NOW - timedelta(seconds=30))
    job = new_job(jobs, store, f"{socket.gethostname()}:{int(time.time())}")
    assert job.tick(NOW) == 1
    assert store.triggers.owners() == [job.triggerer_id]


def test_shutdown_gives_the_triggers_back_and_heartbeats_are_recorded(
    store: MemoryStore, jobs: list[TriggererJob]
) -> None:
    defer(store, "wait", GateTrigger(name()))
    job = new_job(jobs, store, "host:1")
    job.tick(NOW)
    assert store.triggers.owners() == ["host:1"]
    latest = store.jobs.latest("triggerer")
    assert latest is not None and latest.latest_heartbeat == NOW
    job.shutdown()
    assert store.triggers.owners() == []
    assert len(store.triggers.list()) == 1  # still waited on: the next triggerer runs it
