"""Reschedule and deferral through the scheduler: slots freed, the same try resumed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.runtime.events import TaskDeferral
from millstream.scheduler.liveness import check_liveness
from millstream.sensors.python import PythonSensor
from millstream.sensors.time import TimeDeltaSensor
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.triggerer.clock import SkippingClock, using_clock
from millstream.triggerer.outcomes import TriggerOutcome, apply_outcome
from millstream.triggerer.serde import decode

from ..scheduler.harness import START, Engine, FakeClock

DEFERRAL = TaskDeferral(
    classpath="millstream.triggerer.triggers.time.DateTimeTrigger",
    trigger_kwargs={"moment": {"__millstream_type__": "datetime",
                               "value": "2026-01-01T01:00:00+00:00"}},
    next_method="execute_complete",
    next_kwargs={"attempt": 1},
)


def _sensor_and_other(sensor_kwargs: dict[str, Any]) -> DAG:
    """A sensor and an unrelated task sharing a pool of one slot; the sensor goes first."""
    dag = DAG("waiting", start_date=START, schedule=None)
    PythonSensor(task_id="wait", python_callable=lambda: False, pool="one",
                 priority_weight=10, dag=dag, **sensor_kwargs)
    EmptyOperator(task_id="other", pool="one", dag=dag)
    return dag


def _held(dag: DAG) -> tuple[Engine, Any]:
    engine = Engine(dag, held=True)
    engine.store.pools.set("one", 1)
    run = engine.trigger(dag)
    engine.tick()
    assert engine.executor.held_ids() == {"wait"}  # the pool's one slot
    return engine, run


def test_a_rescheduled_sensor_frees_its_pool_slot_and_pokes_again_in_the_same_try() -> None:
    dag = _sensor_and_other({"mode": "reschedule", "poke_interval": 60})
    engine, run = _held(dag)
    executor, clock = engine.executor, engine.clock
    first_poke = clock()  # the held executor's tries start and end at once
    executor.finish("wait", TaskState.UP_FOR_RESCHEDULE, reschedule_date=clock() +
                    timedelta(seconds=60))
    engine.tick()
    wait = engine.ti(run, "wait")
    assert (wait.state, wait.try_number) == (TaskState.UP_FOR_RESCHEDULE, 1)
    assert wait.reschedule_date == clock() + timedelta(seconds=60)
    assert executor.held_ids() == {"other"}  # the slot went to the other task
    executor.finish("other")
    assert engine.tick().next_wakeup == clock() + timedelta(seconds=60)
    clock.advance(seconds=59)
    engine.tick()
    assert engine.ti(run, "wait").state is TaskState.UP_FOR_RESCHEDULE
    clock.advance(seconds=1)
    engine.tick()
    workload, _ = executor.held[executor.key("wait")]
    assert (workload.try_number, workload.reschedule_count) == (1, 1)
    assert workload.first_start_date == first_poke
    (reschedule,) = engine.store.task_reschedules.for_try(wait.key, 1)
    assert (reschedule.start_date, reschedule.reschedule_date) == (
        first_poke, first_poke + timedelta(seconds=60))
    executor.finish("wait")
    finished = engine.run_to_end(run)
    wait = engine.ti(run, "wait")
    assert finished.state is DagRunState.SUCCESS
    assert (wait.state, wait.try_number, wait.reschedule_date) == (TaskState.SUCCESS, 1, None)
    assert [t.try_number for t in engine.store.task_instances.tries(wait.key)] == [1]


def test_a_deferred_task_frees_its_slot_and_resumes_with_the_event_in_the_same_try() -> None:
    dag = _sensor_and_other({})
    engine, run = _held(dag)
    executor = engine.executor
    executor.finish("wait", TaskState.DEFERRED, deferral=DEFERRAL)
    engine.tick()
    wait = engine.ti(run, "wait")
    (trigger,) = engine.store.triggers.list()
    assert (wait.state, wait.try_number, wait.trigger_id, wait.next_method) == (
        TaskState.DEFERRED, 1, trigger.id, "execute_complete")
    assert (trigger.classpath, trigger.kwargs) == (DEFERRAL.classpath, DEFERRAL.trigger_kwargs)
    assert executor.held_ids() == {"other"}  # no pool slot held while deferred
    executor.finish("other")
    engine.tick()
    assert engine.tick().worked is False  # nothing to do until the trigger fires
    with engine.store.transaction():  # what the triggerer does when it fires
        apply_outcome(engine.store, TriggerOutcome(trigger.id, payload={"ok": START}))
    engine.scheduler.poke(reevaluate=False)
    engine.tick()
    workload, _ = executor.held[executor.key("wait")]
    assert (workload.try_number, workload.next_method) == (1, "execute_complete")
    assert decode(workload.next_kwargs) == {"attempt": 1, "event": {"ok": START}}
    executor.finish("wait")
    assert engine.run_to_end(run).state is DagRunState.SUCCESS
    assert engine.ti(run, "wait").try_number == 1
    assert engine.store.triggers.list() == []


def test_a_suspension_event_without_its_details_fails_the_try() -> None:
    dag = _sensor_and_other({})
    engine, run = _held(dag)
    engine.executor.finish("wait", TaskState.DEFERRED)  # no deferral: a broken worker
    engine.tick()
    wait = engine.ti(run, "wait")
    assert wait.state is TaskState.FAILED
    assert "without its reschedule date or trigger" in (wait.error or "")


def test_a_run_that_times_out_fails_its_deferred_task_and_frees_the_trigger() -> None:
    dag = DAG("late", start_date=START, schedule=None, dagrun_timeout=timedelta(minutes=10))
    EmptyOperator(task_id="wait", dag=dag)
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.finish("wait", TaskState.DEFERRED, deferral=DEFERRAL)
    engine.tick()
    engine.clock.advance(minutes=10)
    engine.tick()
    assert engine.run_record(run).state is DagRunState.FAILED
    assert engine.ti(run, "wait").state is TaskState.FAILED
    assert engine.ti(run, "wait").trigger_id is None
    assert engine.store.triggers.clean_unused() == 1


@pytest.mark.parametrize("resuming", [True, False])
def test_a_queued_try_never_started_is_given_back_keeping_a_continuing_try_number(
    resuming: bool,
) -> None:
    engine = Engine(DAG("d", start_date=START, schedule=None))
    now = START + timedelta(minutes=5)
    engine.store.runs.add(DagRunRecord("d", "r", START, START, START))
    ti = TaskInstanceRecord("d", "r", "wait", state=TaskState.QUEUED, try_number=2,
                            start_date=START,
                            reschedule_date=START if resuming else None)
    engine.store.task_instances.add_many([ti])
    check_liveness(engine.store, {}, set(), "host", now, timedelta(seconds=30),
                   lambda key, try_number: None)
    given_back = engine.store.task_instances.get(ti.key)
    assert given_back is not None and given_back.state is TaskState.SCHEDULED
    assert given_back.try_number == (2 if resuming else 1)


@pytest.fixture
def skipping(request: pytest.FixtureRequest) -> Iterator[FakeClock]:
    """A fake clock for the scheduler that sensors and triggers also read."""
    clock = FakeClock()

    def skip_to(moment: Any) -> None:
        clock.now = max(clock.now, moment)

    with using_clock(SkippingClock(clock, skip_to)):
        yield clock


def test_a_reschedule_mode_sensor_really_run_pokes_each_interval(skipping: FakeClock) -> None:
    pokes: list[Any] = []

    def ready() -> bool:
        pokes.append(skipping())
        return len(pokes) == 4

    dag = DAG("real", start_date=START, schedule=None)
    PythonSensor(task_id="wait", python_callable=ready, mode="reschedule", poke_interval=300,
                 dag=dag)
    engine = Engine(dag, clock=skipping)
    run = engine.run_to_end(engine.trigger(dag))
    wait = engine.ti(run, "wait")
    assert (run.state, wait.state, wait.try_number) == (
        DagRunState.SUCCESS, TaskState.SUCCESS, 1)
    assert [(p - pokes[0]).total_seconds() for p in pokes] == [0, 300, 600, 900]
    assert len(engine.store.task_reschedules.for_try(wait.key, 1)) == 3


def test_a_deferrable_sensor_run_by_the_scheduler_waits_deferred(skipping: FakeClock) -> None:
    dag = DAG("deferring", start_date=START, schedule=None)
    TimeDeltaSensor(task_id="wait", delta=timedelta(hours=2), deferrable=True, dag=dag)
    engine = Engine(dag, clock=skipping)
    run = engine.trigger(dag)
    engine.tick()
    engine.tick()
    wait = engine.ti(run, "wait")
    assert wait.state is TaskState.DEFERRED
    (trigger,) = engine.store.triggers.list()
    assert decode(trigger.kwargs)["moment"] == run.data_interval_end + timedelta(hours=2)
    assert wait.trigger_timeout == skipping() + timedelta(days=7)  # the sensor's timeout
