"""A continuing try (a sensor's next poke) must not be taken as ended by the result file its
previous poke left: both have the same key and try number.

When a scheduler dies after queueing a rescheduled sensor's next poke and before the fork
server starts it (the fork server then refuses: "its scheduler is gone"), the next
scheduler's liveness check finds the previous poke's result file for that key and try
number, and adopts it as the outcome of the poke that never ran: one more task_reschedule
row (a poke that did not happen, and exponential backoff one step further), and for a
resumed deferral the trigger's event would be replaced by the old deferral.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from millstream import DAG
from millstream.model.states import TaskState
from millstream.operators.empty import EmptyOperator
from millstream.runtime.events import TaskDeferral
from millstream.runtime.worker import read_result_file, write_result_file
from millstream.scheduler.liveness import check_liveness
from millstream.sensors.python import PythonSensor
from millstream.triggerer.outcomes import TriggerOutcome, apply_outcome

from ..scheduler.harness import START, Engine

DEFERRAL = TaskDeferral(
    classpath="millstream.triggerer.triggers.time.DateTimeTrigger",
    trigger_kwargs={"moment": {"__millstream_type__": "datetime",
                               "value": "2026-01-01T01:00:00+00:00"}},
    next_method="execute_complete",
)


@pytest.mark.xfail(strict=True, reason="liveness adopts the previous poke's result file as "
                   "the outcome of a continuing try that never started")
def test_a_queued_next_poke_is_not_ended_by_the_previous_pokes_result_file(
    tmp_path: Path,
) -> None:
    dag = DAG("waiting", start_date=START, schedule=None)
    PythonSensor(task_id="wait", python_callable=lambda: False, mode="reschedule",
                 poke_interval=60, dag=dag)
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    # The first poke finds nothing; its worker leaves its result file, as every try does.
    first = engine.executor.finish("wait", TaskState.UP_FOR_RESCHEDULE,
                                   reschedule_date=engine.clock() + timedelta(seconds=60))
    write_result_file(tmp_path, first)
    engine.tick()
    engine.clock.advance(seconds=60)
    engine.tick()
    queued = engine.ti(run, "wait")
    assert (queued.state, queued.try_number) == (TaskState.QUEUED, 1)  # the second poke

    # This scheduler dies before the second poke starts; the next one checks liveness.
    outcomes = check_liveness(
        engine.store, {}, set(), "host", engine.clock() + timedelta(seconds=1),
        timedelta(seconds=30), lambda key, number: read_result_file(tmp_path, key, number))

    assert outcomes == [], f"the second poke never ran, yet ended with {outcomes}"


@pytest.mark.xfail(strict=True, reason="liveness adopts the deferral's result file as the "
                   "outcome of the resumed try that never started")
def test_a_queued_resumption_is_not_ended_by_the_deferrals_result_file(tmp_path: Path) -> None:
    dag = DAG("deferring", start_date=START, schedule=None)
    EmptyOperator(task_id="wait", dag=dag)
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    deferred = engine.executor.finish("wait", TaskState.DEFERRED, deferral=DEFERRAL)
    write_result_file(tmp_path, deferred)
    engine.tick()
    (trigger,) = engine.store.triggers.list()
    with engine.store.transaction():  # the trigger fires: the task resumes with its event
        apply_outcome(engine.store, TriggerOutcome(trigger.id, payload={"rows": 3}))
    engine.scheduler.poke(reevaluate=False)
    engine.tick()
    queued = engine.ti(run, "wait")
    assert (queued.state, queued.try_number, queued.next_method) == (
        TaskState.QUEUED, 1, "execute_complete")

    outcomes = check_liveness(
        engine.store, {}, set(), "host", engine.clock() + timedelta(seconds=1),
        timedelta(seconds=30), lambda key, number: read_result_file(tmp_path, key, number))

    # Adopted, the old DEFERRED outcome would store a new trigger and drop the event.
    assert outcomes == [], f"the resumption never ran, yet ended with {outcomes}"
