"""ExternalTaskSensor over one in-memory store holding the runs of another DAG.

The upstream DAG runs first with ``run_dag_test(..., store=store)`` (or a run of it is
created and changed by hand, as another scheduler would), then the DAG with the sensor
runs through the real scheduler over the same store.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from millstream import DAG, TaskGroup
from millstream.exceptions import DagDefinitionError, TaskSkipped
from millstream.model.states import TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.runs import create_run
from millstream.sensors import ExternalTaskSensor
from millstream.services import mark
from millstream.store.memory import MemoryStore
from millstream.store.records import TaskInstanceKey
from millstream.testing import run_dag_test
from millstream.triggerer.base import load_trigger, serialize_trigger
from millstream.triggerer.triggers.external_task import ExternalTaskTrigger

START = datetime(2026, 1, 1)
DAY = datetime(2026, 1, 5, tzinfo=UTC)


def _fail() -> None:
    raise RuntimeError("source unavailable")


def _skip() -> None:
    raise TaskSkipped("nothing to load today")


def _ingest(complete=None, load_b=None) -> DAG:
    """The upstream DAG: extract >> load group (a, b) >> complete."""
    with DAG("ingest", schedule="@hourly", start_date=START) as dag:
        extract = EmptyOperator(task_id="extract")
        with TaskGroup("load") as load:
            EmptyOperator(task_id="a")
            if load_b is None:
                EmptyOperator(task_id="b")
            else:
                PythonOperator(task_id="b", python_callable=load_b)
        if complete is None:
            done = EmptyOperator(task_id="complete", trigger_rule="all_done")
        else:
            done = PythonOperator(task_id="complete", python_callable=complete,
                                  trigger_rule="all_done")
        extract >> load >> done
    return dag


def _report(**sensor_kwargs) -> DAG:
    sensor_kwargs.setdefault("poke_interval", 0.01)
    sensor_kwargs.setdefault("timeout", 30)
    with DAG("report", schedule="@hourly", start_date=START) as dag:
        wait = ExternalTaskSensor(task_id="wait", external_dag_id="ingest", **sensor_kwargs)
        wait >> EmptyOperator(task_id="publish")
    return dag


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(open_pools=True)


def _upstream_run(store: MemoryStore, moment: datetime = DAY, **ingest_kwargs) -> str:
    result = run_dag_test(_ingest(**ingest_kwargs), moment, store=store)
    return result.run_id


# -- waiting for tasks, groups and whole runs ------------------------------------------------

def test_a_task_that_succeeded_at_the_same_logical_date_lets_the_sensor_through(store) -> None:
    _upstream_run(store)

    result = run_dag_test(_report(external_task_id="complete"), DAY, store=store)

    assert result.task_states == {"wait": "success", "publish": "success"}, result.tasks


def test_the_sensor_waits_until_the_upstream_task_succeeds(store, between_pokes) -> None:
    upstream = DagStructure.from_dag(_ingest())
    with store.transaction():
        run = create_run(store, upstream, DAY, upstream.timetable.data_interval_for(DAY),
                         datetime.now(UTC))
    key = TaskInstanceKey("ingest", run.run_id, "complete")
    # another scheduler finishes the upstream task while the sensor waits
    waits = between_pokes(lambda: mark.mark_task(store, key, "success", "ops",
                                                    datetime.now(UTC)), after=3)

    result = run_dag_test(_report(external_task_id="complete", mode="reschedule"), DAY,
                          store=store)

    assert result.task_states == {"wait": "success", "publish": "success"}, result.tasks
    assert waits.seen == 3


def test_whole_dag_mode_waits_for_the_run_itself(store) -> None:
    _upstream_run(store)

    result = run_dag_test(_report(), DAY, store=store)

    assert result.task_states["wait"] == "success", result.tasks


def test_whole_dag_mode_fails_when_the_run_failed(store) -> None:
    _upstream_run(store, complete=_fail)

    result = run_dag_test(_report(failed_states=["failed"], retries=2), DAY, store=store)

    assert result.task_states == {"wait": "failed", "publish": "upstream_failed"}
    wait = result.tasks[0]
    assert wait.tries == 1  # waiting longer or retrying cannot help
    assert "upstream failed" in wait.error and "DAG 'ingest'" in wait.error
    assert "'failed'" in wait.error


def test_a_task_group_is_done_when_all_its_tasks_are(store) -> None:
    _upstream_run(store)

    result = run_dag_test(_report(external_task_group_id="load"), DAY, store=store)

    assert result.task_states["wait"] == "success", result.tasks


def test_one_failed_task_of_a_group_fails_the_sensor_naming_it(store) -> None:
    _upstream_run(store, load_b=_fail)

    result = run_dag_test(
        _report(external_task_group_id="load", failed_states=["failed", "upstream_failed"]),
        DAY, store=store)

    assert result.task_states["wait"] == "failed"
    assert "task 'load.b'" in result.tasks[0].error
    assert "failed_states" in result.tasks[0].error


def test_failed_states_fail_at_once_naming_the_upstream_task_and_run(store) -> None:
    run_id = _upstream_run(store, complete=_fail)

    result = run_dag_test(_report(external_task_id="complete", failed_states=["failed"],
                                  retries=3), DAY, store=store)

    wait = result.tasks[0]
    assert (wait.state, wait.tries) == ("failed", 1)
    assert "task 'complete'" in wait.error and run_id in wait.error
    assert "DAG 'ingest'" in wait.error


def test_skipped_states_skip_the_sensor(store) -> None:
    _upstream_run(store, load_b=_skip)

    result = run_dag_test(_report(external_task_ids=["load.a", "load.b"],
                                  skipped_states=["skipped"]), DAY, store=store)

    assert result.task_states == {"wait": "skipped", "publish": "skipped"}


def test_several_tasks_must_all_be_in_an_allowed_state(store) -> None:
    _upstream_run(store, load_b=_skip)

    result = run_dag_test(_report(external_task_ids=["load.a", "load.b"],
                                  allowed_states=["success", "skipped"]), DAY, store=store)

    assert result.task_states["wait"] == "success", result.tasks


# -- which logical dates -----------------------------------------------------------------------

def test_execution_delta_looks_at_an_earlier_run(store) -> None:
    _upstream_run(store, DAY)  # 00:00
    one_am = DAY + timedelta(hours=1)

    shifted = run_dag_test(_report(external_task_id="complete",
                                   execution_delta=timedelta(hours=1)), one_am, store=store)
    assert shifted.task_states["wait"] == "success", shifted.tasks


def test_without_a_run_at_that_logical_date_the_sensor_times_out(store, caplog) -> None:
    caplog.set_level(logging.INFO, logger="millstream.task")
    _upstream_run(store, DAY)
    one_am = DAY + timedelta(hours=1)

    result = run_dag_test(_report(external_task_id="complete", timeout=0.05), one_am,
                          store=store)

    assert result.task_states["wait"] == "failed"
    assert "timed out" in result.tasks[0].error
    assert "DAG 'ingest' has no run for logical date 2026-01-05T01:00:00+00:00" in caplog.text


def test_execution_date_fn_may_name_several_runs_and_context_keys(store) -> None:
    _upstream_run(store, DAY)
    _upstream_run(store, DAY + timedelta(hours=1))
    asked = []

    def last_two_hours(logical_date, ds):
        asked.append(ds)
        return [logical_date - timedelta(hours=2), logical_date - timedelta(hours=1)]

    result = run_dag_test(_report(external_task_id="complete",
                                  execution_date_fn=last_two_hours),
                          DAY + timedelta(hours=2), store=store)

    assert result.task_states["wait"] == "success", result.tasks
    assert asked == ["2026-01-05"]


def test_execution_date_fn_must_return_datetimes(store) -> None:
    result = run_dag_test(_report(execution_date_fn=lambda logical_date: "yesterday"), DAY,
                          store=store)

    assert result.task_states["wait"] == "failed"
    assert "execution_date_fn must return a datetime" in result.tasks[0].error


# -- check_existence ---------------------------------------------------------------------------

def test_check_existence_fails_at_once_naming_a_missing_dag(store) -> None:
    with DAG("report", schedule="@hourly", start_date=START) as dag:
        ExternalTaskSensor(task_id="wait", external_dag_id="ingets", external_task_id="complete",
                           check_existence=True, poke_interval=0.01, timeout=30, retries=2)

    result = run_dag_test(dag, DAY, store=store)

    assert (result.tasks[0].state, result.tasks[0].tries) == ("failed", 1)
    assert "external DAG 'ingets' does not exist" in result.tasks[0].error


def test_check_existence_names_a_missing_task(store) -> None:
    _upstream_run(store)

    result = run_dag_test(_report(external_task_ids=["complete", "compleet"],
                                  check_existence=True), DAY, store=store)

    assert result.task_states["wait"] == "failed"
    assert "external task 'compleet' does not exist in DAG 'ingest'" in result.tasks[0].error


def test_check_existence_names_a_missing_group(store) -> None:
    _upstream_run(store)

    result = run_dag_test(_report(external_task_group_id="lod", check_existence=True), DAY,
                          store=store)

    assert "external task group 'lod' does not exist" in result.tasks[0].error


# -- deferrable ----------------------------------------------------------------------------------

def test_deferrable_waits_in_the_triggerer_until_the_upstream_succeeds(
    store, between_pokes
) -> None:
    upstream = DagStructure.from_dag(_ingest())
    with store.transaction():
        run = create_run(store, upstream, DAY, upstream.timetable.data_interval_for(DAY),
                         datetime.now(UTC))
    key = TaskInstanceKey("ingest", run.run_id, "complete")
    waits = between_pokes(lambda: mark.mark_task(store, key, "success", "ops",
                                                    datetime.now(UTC)))

    result = run_dag_test(_report(external_task_id="complete", deferrable=True), DAY,
                          store=store)

    assert result.task_states == {"wait": "success", "publish": "success"}, result.tasks
    assert waits.seen == 1  # one poke, then the trigger saw the change
    with store.transaction():
        assert store.task_instances.get(key).state is TaskState.SUCCESS


def test_deferrable_fails_naming_the_upstream_when_it_fails(store, between_pokes) -> None:
    upstream = DagStructure.from_dag(_ingest())
    with store.transaction():
        run = create_run(store, upstream, DAY, upstream.timetable.data_interval_for(DAY),
                         datetime.now(UTC))
    key = TaskInstanceKey("ingest", run.run_id, "complete")
    between_pokes(lambda: mark.mark_task(store, key, "failed", "ops", datetime.now(UTC)))

    result = run_dag_test(_report(external_task_id="complete", failed_states=["failed"],
                                  deferrable=True, retries=2), DAY, store=store)

    wait = result.tasks[0]
    assert (wait.state, wait.tries) == ("failed", 1), result.tasks
    assert "upstream failed" in wait.error and "task 'complete'" in wait.error


def test_the_trigger_survives_serialization_with_its_dates() -> None:
    trigger = ExternalTaskTrigger(
        "ingest", [DAY, DAY + timedelta(hours=1)], ["success"], failed_states=["failed"],
        external_task_ids=["complete"], poke_interval=3)

    classpath, kwargs = serialize_trigger(trigger)
    again = load_trigger(classpath, json.loads(json.dumps(kwargs)))

    assert isinstance(again, ExternalTaskTrigger)
    assert again.serialize() == trigger.serialize()
    assert again.logical_dates == [DAY, DAY + timedelta(hours=1)]


# -- definition errors -----------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"external_task_id": "a", "external_task_ids": ["b"]},
     "external_task_id or external_task_ids, not both"),
    ({"external_task_id": "a", "external_task_group_id": "g"},
     "external_task_group_id or external task ids, not both"),
    ({"external_task_ids": ["a", "a"]}, "duplicates"),
    ({"execution_delta": timedelta(hours=1), "execution_date_fn": lambda d: d},
     "execution_delta or execution_date_fn, not both"),
    ({"allowed_states": ["upstream_failed"]}, "not DAG run states"),
    ({"external_task_id": "a", "allowed_states": ["done"]}, "not task states"),
    ({"external_task_id": "a", "failed_states": ["success"]}, "only one of allowed_states"),
    ({"allowed_states": "success"}, "must be a list of states"),
])
def test_bad_arguments_are_definition_errors_naming_the_task(kwargs, message) -> None:
    with pytest.raises(DagDefinitionError, match="task 'wait'") as raised, \
            DAG("report", schedule=None):
        ExternalTaskSensor(task_id="wait", external_dag_id="ingest", **kwargs)
    assert message in str(raised.value)
