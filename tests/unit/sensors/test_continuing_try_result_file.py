"""A continuing try (a sensor's next poke, a deferral's resumption) must not be taken as ended
by the result file its previous step left: every step has the same key and try number.

When a scheduler dies after queueing a rescheduled sensor's next poke and before the fork
server starts it (the fork server then refuses: "its scheduler is gone"), the next
scheduler's liveness check finds the previous poke's result file for that key and try
number. Adopted, it would end the poke that never ran: one more task_reschedule row (a
poke that did not happen, and exponential backoff one step further), and for a resumed
deferral the trigger's event would be replaced by the old deferral. Each queueing gives
the instance a new step id, which the step's outcome names: only that step's outcome
counts, and the step that never started is given back to run again in the same try.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.runtime.events import TaskDeferral, TaskFinishedEvent
from millstream.runtime.worker import read_result_file, write_result_file
from millstream.scheduler.liveness import check_liveness
from millstream.sensors.python import PythonSensor
from millstream.store.records import DagRunRecord
from millstream.triggerer.outcomes import TriggerOutcome, apply_outcome

from ..scheduler.harness import START, Engine

ZOMBIE_TIMEOUT = timedelta(seconds=30)

DEFERRAL = TaskDeferral(
    classpath="millstream.triggerer.triggers.time.DateTimeTrigger",
    trigger_kwargs={"moment": {"__millstream_type__": "datetime",
                               "value": "2026-01-01T01:00:00+00:00"}},
    next_method="execute_complete",
)


def _liveness(engine: Engine, folder: Path, after: timedelta) -> list[TaskFinishedEvent]:
    """A new scheduler's liveness check ``after`` from now, holding no try itself."""
    return check_liveness(
        engine.store, {}, set(), "host", engine.clock() + after, ZOMBIE_TIMEOUT,
        lambda key, number: read_result_file(folder, key, number))


def _sensor_dag() -> DAG:
    dag = DAG("waiting", start_date=START, schedule=None)
    PythonSensor(task_id="wait", python_callable=lambda: False, mode="reschedule",
                 poke_interval=60, exponential_backoff=True, dag=dag)
    return dag


def _second_poke_queued(engine: Engine, folder: Path) -> tuple[DagRunRecord, TaskFinishedEvent]:
    """The first poke found nothing and left its result file; the second poke is queued."""
    run = engine.trigger(engine.scheduler.dags["waiting"])
    engine.tick()
    first = engine.executor.finish("wait", TaskState.UP_FOR_RESCHEDULE,
                                   reschedule_date=engine.clock() + timedelta(seconds=60))
    write_result_file(folder, first)  # as every try's worker does
    engine.tick()
    engine.clock.advance(seconds=60)
    engine.tick()
    return run, first


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


def test_a_next_poke_that_never_started_runs_again_in_the_same_try_and_its_own_result_counts(
    tmp_path: Path,
) -> None:
    engine = Engine(_sensor_dag(), held=True)
    run, first = _second_poke_queued(engine, tmp_path)
    lost_step = engine.ti(run, "wait").step_id
    assert lost_step is not None and lost_step != first.step_id

    # The scheduler holding the second poke dies before it starts. Its successor sees no
    # sign of the poke until the zombie timeout has passed, then gives it back.
    assert _liveness(engine, tmp_path, timedelta(seconds=1)) == []
    assert _liveness(engine, tmp_path, ZOMBIE_TIMEOUT + timedelta(seconds=2)) == []
    given_back = engine.ti(run, "wait")
    assert (given_back.state, given_back.try_number) == (TaskState.SCHEDULED, 1)
    assert given_back.reschedule_date is not None  # still the same, continuing try

    successor = Engine(_sensor_dag(), store=engine.store, held=True, clock=engine.clock)
    successor.clock.advance(seconds=40)
    successor.tick()
    again = successor.ti(run, "wait")
    assert (again.state, again.try_number) == (TaskState.QUEUED, 1)
    assert again.step_id not in (None, first.step_id, lost_step)

    # This poke finds what it waited for; its scheduler dies before reading its end. The
    # next liveness check adopts that result: it names the step the instance is on.
    (workload, _), = successor.executor.held.values()
    assert workload.step_id == again.step_id
    done = successor.executor.finish("wait", TaskState.SUCCESS)
    successor.executor.events.clear()
    write_result_file(tmp_path, done)
    assert _liveness(successor, tmp_path, timedelta(seconds=1)) == [done]
    successor.scheduler.apply_outcomes([done])

    assert successor.run_to_end(run).state is DagRunState.SUCCESS
    ti = successor.ti(run, "wait")
    assert (ti.state, ti.try_number) == (TaskState.SUCCESS, 1)
    # One poke gave its slot back: the poke that never ran left no reschedule behind.
    reschedules = successor.store.task_reschedules.for_try(ti.key, 1)
    assert [r.end_date for r in reschedules] == [first.end_date]


def test_a_resumption_that_never_started_is_given_back_with_its_event(tmp_path: Path) -> None:
    dag = DAG("deferring", start_date=START, schedule=None)
    EmptyOperator(task_id="wait", dag=dag)
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    write_result_file(tmp_path, engine.executor.finish("wait", TaskState.DEFERRED,
                                                       deferral=DEFERRAL))
    engine.tick()
    (trigger,) = engine.store.triggers.list()
    with engine.store.transaction():
        apply_outcome(engine.store, TriggerOutcome(trigger.id, payload={"rows": 3}))
    engine.scheduler.poke(reevaluate=False)
    engine.tick()

    assert _liveness(engine, tmp_path, timedelta(seconds=1)) == []
    assert _liveness(engine, tmp_path, ZOMBIE_TIMEOUT + timedelta(seconds=2)) == []
    ti = engine.ti(run, "wait")
    assert (ti.state, ti.try_number, ti.next_method) == (
        TaskState.SCHEDULED, 1, "execute_complete")
    assert (ti.next_kwargs or {}).get("event") == {"rows": 3}  # the event is kept
    assert ti.trigger_id is None and engine.store.triggers.list() == []


def test_an_outcome_of_an_earlier_step_is_ignored_when_applied(tmp_path: Path) -> None:
    engine = Engine(_sensor_dag(), held=True)
    run, first = _second_poke_queued(engine, tmp_path)
    # The first poke's end arrives again (delivered twice) while the second is queued.
    engine.executor.events.append(first)
    engine.tick()
    ti = engine.ti(run, "wait")
    assert (ti.state, ti.try_number) == (TaskState.QUEUED, 1)
    assert len(engine.store.task_reschedules.for_try(ti.key, 1)) == 1


def test_an_outcome_naming_no_step_is_taken_as_the_current_steps() -> None:
    """A worker of an earlier version names no step: its outcome still counts."""
    engine = Engine(_sensor_dag(), held=True)
    run = engine.trigger(engine.scheduler.dags["waiting"])
    engine.tick()
    done = engine.executor.finish("wait", TaskState.SUCCESS, step_id=None)
    assert done.step_id is None
    assert engine.run_to_end(run).state is DagRunState.SUCCESS


@pytest.mark.parametrize("same_step", [True, False])
def test_liveness_adopts_a_result_only_for_the_step_it_names(
    tmp_path: Path, same_step: bool,
) -> None:
    engine = Engine(EmptyOperator(task_id="only", dag=DAG("d", start_date=START,
                                                         schedule=None)).dag, held=True)
    run = engine.trigger(engine.scheduler.dags["d"])
    engine.tick()
    (workload, _), = engine.executor.held.values()
    event = TaskFinishedEvent(workload.key, 1, TaskState.SUCCESS, START, START,
                              step_id=workload.step_id if same_step else "another-step")
    write_result_file(tmp_path, event)
    assert _liveness(engine, tmp_path, timedelta(seconds=1)) == ([event] if same_step else [])
    assert engine.ti(run, "only").state is TaskState.QUEUED


def test_a_result_left_by_a_deleted_run_with_the_same_id_is_not_adopted(tmp_path: Path) -> None:
    dag = DAG("again", start_date=START, schedule=None)
    EmptyOperator(task_id="only", dag=dag)
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    write_result_file(tmp_path, engine.executor.finish("only", TaskState.FAILED))
    assert engine.run_to_end(run).state is DagRunState.FAILED
    with engine.store.transaction():
        assert engine.store.runs.delete(run.dag_id, run.run_id)
    again = engine.trigger(dag)
    assert again.run_id == run.run_id
    engine.tick()
    assert engine.ti(again, "only").state is TaskState.QUEUED

    assert _liveness(engine, tmp_path, timedelta(seconds=1)) == []
    assert _liveness(engine, tmp_path, ZOMBIE_TIMEOUT + timedelta(seconds=2)) == []
    given_back = engine.ti(again, "only")
    assert (given_back.state, given_back.try_number) == (TaskState.SCHEDULED, 0)
