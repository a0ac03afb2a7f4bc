"""The store contract for the step of a try a task instance is on (``step_id``).

Every queueing of an instance records a new step id in the same write as the claim, and
the id outlives the try's end, so a late or left-over outcome can be told from the current
step's. Each test runs once per store kind (memory, SQLite, PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.unit.scheduler.harness import START, Engine

from millstream import DAG
from millstream.model.states import TaskState
from millstream.runtime.worker import read_result_file, write_result_file
from millstream.scheduler.liveness import check_liveness
from millstream.sensors.python import PythonSensor
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord, new_step_id

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def _scheduled_instance(store: Store) -> TaskInstanceRecord:
    run = DagRunRecord("etl", "manual__1", DAY, DAY, DAY + timedelta(days=1))
    with store.transaction():
        store.runs.add(run)
        store.task_instances.add_many([TaskInstanceRecord(
            "etl", run.run_id, "wait", state=TaskState.SCHEDULED, pid=4242,
            hostname="worker-1", heartbeat_at=DAY)])
    ti = store.task_instances.get(TaskInstanceRecord("etl", run.run_id, "wait").key)
    assert ti is not None and ti.step_id is None  # never queued: no step yet
    return ti


def _get(store: Store, ti: TaskInstanceRecord) -> TaskInstanceRecord:
    got = store.task_instances.get(ti.key)
    assert got is not None
    return got


def test_each_claim_records_a_new_step_id_and_the_end_of_the_try_keeps_it(store: Store) -> None:
    ti = _scheduled_instance(store)
    first, second = new_step_id(), new_step_id()
    assert first != second and len(first) == 32
    with store.transaction():
        assert store.task_instances.claim(ti, TaskState.SCHEDULED, TaskState.QUEUED,
                                          try_number=1, step_id=first, pid=None,
                                          heartbeat_at=None)
    queued = _get(store, ti)
    assert (queued.state, queued.try_number, queued.step_id, queued.pid, queued.heartbeat_at) \
        == (TaskState.QUEUED, 1, first, None, None)
    assert queued.hostname == "worker-1"

    with store.transaction():  # the poke finds nothing: the try is suspended, not ended
        running = store.task_instances.set_state(queued, TaskState.RUNNING, pid=7)
        waiting = store.task_instances.set_state(running, TaskState.UP_FOR_RESCHEDULE,
                                                 reschedule_date=DAY + timedelta(minutes=1))
        scheduled = store.task_instances.set_state(waiting, TaskState.SCHEDULED)
    assert _get(store, ti).step_id == first
    with store.transaction():
        assert store.task_instances.claim(scheduled, TaskState.SCHEDULED, TaskState.QUEUED,
                                          step_id=second, pid=None)
        # A second claim of the same step loses and changes nothing.
        assert not store.task_instances.claim(scheduled, TaskState.SCHEDULED,
                                              TaskState.QUEUED, step_id=new_step_id())
    again = _get(store, ti)
    assert (again.try_number, again.step_id, again.reschedule_date) == (
        1, second, DAY + timedelta(minutes=1))

    with store.transaction():
        store.task_instances.set_state(again, TaskState.SUCCESS, end_date=DAY)
    ended = _get(store, ti)
    assert (ended.state, ended.step_id, ended.reschedule_date) == (
        TaskState.SUCCESS, second, None)


def test_liveness_tells_the_steps_of_a_continuing_try_apart(store: Store, tmp_path: Path) -> None:
    dag = DAG("waiting", start_date=START, schedule=None)
    PythonSensor(task_id="wait", python_callable=lambda: False, mode="reschedule",
                 poke_interval=60, dag=dag)
    engine = Engine(dag, store=store, held=True)
    run = engine.trigger(dag)
    engine.tick()
    first = engine.executor.finish("wait", TaskState.UP_FOR_RESCHEDULE,
                                   reschedule_date=engine.clock() + timedelta(seconds=60))
    write_result_file(tmp_path, first)
    engine.tick()
    engine.clock.advance(seconds=60)
    engine.tick()
    queued = engine.ti(run, "wait")
    assert queued.state is TaskState.QUEUED and queued.step_id not in (None, first.step_id)

    def liveness(after: timedelta) -> list[object]:
        with store.transaction():
            return list(check_liveness(
                store, {}, set(), "host", engine.clock() + after, timedelta(seconds=30),
                lambda key, number: read_result_file(tmp_path, key, number)))

    assert liveness(timedelta(seconds=1)) == []
    assert liveness(timedelta(seconds=40)) == []
    given_back = engine.ti(run, "wait")
    assert (given_back.state, given_back.try_number) == (TaskState.SCHEDULED, 1)
    assert len(store.task_reschedules.for_try(given_back.key, 1)) == 1
