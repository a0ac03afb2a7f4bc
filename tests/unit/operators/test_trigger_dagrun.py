"""TriggerDagRunOperator: its arguments, under dag.test(), and over a store that knows the DAG.

Over the in-memory store with both DAGs recorded (as a scheduler records them), the run it
creates is a real run the scheduler then runs; under ``dag.test()`` the run is recorded
but never runs, and waiting for it fails at once, saying why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from millstream import DAG, Param
from millstream.exceptions import DagDefinitionError
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.operators.trigger_dagrun import TriggerDagRunOperator
from millstream.parsing.serialize import DagStructure
from millstream.store.current import using_store
from millstream.store.records import DagRunRecord
from tests.autocommit import autocommit

from ..scheduler.harness import START, Engine


# -- arguments -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trigger_dag_id": ""}, "trigger_dag_id must be a non-empty string"),
        ({"trigger_dag_id": "no spaces please"},
         "trigger_dag_id 'no spaces please' is not a valid dag id"),
        ({"trigger_dag_id": "t", "conf": ["a"]}, "conf must be a dict .*got list"),
        ({"trigger_dag_id": "t", "logical_date": 20260101}, "logical_date must be a datetime"),
        ({"trigger_dag_id": "t", "poke_interval": 0}, "poke_interval must be a positive"),
        ({"trigger_dag_id": "t", "poke_interval": True}, "poke_interval must be a positive"),
        ({"trigger_dag_id": "t", "allowed_states": ["done"]},
         "allowed_states has 'done', which is not a run state"),
        ({"trigger_dag_id": "t", "failed_states": ["success"]},
         "success is in both allowed_states and failed_states"),
        ({"trigger_dag_id": "t", "trigger_run_id": 7}, "trigger_run_id must be a string"),
    ],
)
def test_bad_arguments_are_definition_errors_naming_the_task(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(DagDefinitionError, match=f"DAG 'ctl', task 'go': {message}"), \
            DAG("ctl", schedule=None):
        TriggerDagRunOperator(task_id="go", **kwargs)


def test_defaults_follow_airflow() -> None:
    with DAG("ctl", schedule=None):
        op = TriggerDagRunOperator(task_id="go", trigger_dag_id="{{ params.target }}",
                                   allowed_states=["SUCCESS", DagRunState.RUNNING])
    assert op.allowed_states == [DagRunState.SUCCESS, DagRunState.RUNNING]
    assert op.failed_states == [DagRunState.FAILED]
    assert (op.poke_interval, op.wait_for_completion, op.reset_dag_run) == (60.0, False, False)
    assert set(op.template_fields) == {"trigger_dag_id", "trigger_run_id", "logical_date",
                                       "conf"}


# -- under dag.test() ----------------------------------------------------------------------------
def _controller(**kwargs: Any) -> DAG:
    with DAG("controller", schedule=None, params={"region": "emea"}) as dag:
        TriggerDagRunOperator(task_id="go", trigger_dag_id="target", **kwargs)
    return dag


def test_under_dag_test_the_run_is_recorded_with_rendered_conf_and_logical_date() -> None:
    dag = _controller(conf={"region": "{{ params.region }}", "day": "{{ ds }}"},
                      logical_date="{{ ds }}T06:00:00+00:00")
    result = dag.test("2026-03-01")
    assert result.state == "success"
    run_id = result.xcom_pull("go", key="trigger_run_id")
    assert run_id == "manual__2026-03-01T06:00:00+00:00"
    assert result.xcom_pull("go", key="trigger_logical_date_iso") == "2026-03-01T06:00:00+00:00"
    assert result.xcom_pull("go") is None
    store = autocommit(result._store)
    (run,) = store.runs.list("target")
    assert (run.run_id, run.run_type, run.state, run.conf) == (
        run_id, "manual", DagRunState.QUEUED, {"region": "emea", "day": "2026-03-01"})
    assert store.task_instances.for_run("target", run_id) == []  # nothing runs it here
    (audit,) = store.audit.list()
    assert (audit.who, audit.event, audit.dag_id, audit.run_id) == (
        "dag:controller.go", "trigger", "target", run_id)


def test_under_dag_test_waiting_for_the_run_fails_at_once_saying_why() -> None:
    result = _controller(wait_for_completion=True, retries=2).test("2026-03-01")
    assert result.task_states == {"go": "failed"}
    (go,) = result.tasks
    assert go.tries == 1 and go.error is not None
    assert "cannot wait for run" in go.error and "under dag.test()" in go.error
    assert "set wait_for_completion=False" in go.error


def test_a_logical_date_taken_fails_skips_or_is_reused_with_reset_under_dag_test() -> None:
    with DAG("twice", schedule=None) as dag:
        first = TriggerDagRunOperator(task_id="first", trigger_dag_id="target",
                                      logical_date="2026-01-01")
        again = TriggerDagRunOperator(task_id="again", trigger_dag_id="target",
                                      logical_date="2026-01-01", trigger_rule="all_done")
        skip = TriggerDagRunOperator(task_id="skip", trigger_dag_id="target",
                                     logical_date="2026-01-01", skip_when_already_exists=True,
                                     trigger_rule="all_done")
        reset = TriggerDagRunOperator(task_id="reset", trigger_dag_id="target",
                                      logical_date="2026-01-01", reset_dag_run=True,
                                      trigger_rule="all_done")
        first >> again >> skip >> reset
    result = dag.test("2026-05-05")
    assert result.task_states == {"first": "success", "again": "failed", "skip": "skipped",
                                  "reset": "success"}
    error = result.tasks[1].error or ""
    assert error.startswith("DagRunAlreadyExists: DAG 'target' already has a run "
                            "'manual__2026-01-01T00:00:00+00:00' for logical date")
    assert "reset_dag_run=True" in error
    assert result.xcom_pull("reset", key="trigger_run_id") == \
        result.xcom_pull("first", key="trigger_run_id")
    assert len(autocommit(result._store).runs.list("target")) == 1


def test_a_bad_rendered_value_fails_the_task_naming_it() -> None:
    with DAG("bad_render", schedule=None, params={"target": "not a dag id"}) as dag:
        TriggerDagRunOperator(task_id="go", trigger_dag_id="{{ params.target }}")
        TriggerDagRunOperator(task_id="date", trigger_dag_id="t", logical_date="{{ ds }}x")
    result = dag.test("2026-03-01")
    assert result.task_states == {"go": "failed", "date": "failed"}
    errors = {t.label: t.error or "" for t in result.tasks}
    assert "trigger_dag_id rendered to 'not a dag id', which is not a valid dag id" in \
        errors["go"]
    assert "task 'date': bad logical_date '2026-03-01x': use a datetime or an ISO date" in \
        errors["date"]
    assert autocommit(result._store).runs.list() == [result.run]


# -- over a store that knows both DAGs -----------------------------------------------------------
def _known(*dags: DAG) -> Engine:
    engine = Engine(*dags)
    for dag in dags:
        structure = DagStructure.from_dag(dag)
        engine.store.dags.upsert(dag.dag_id, None, structure.to_json(), structure.version,
                                 START)
    return engine


def _target() -> DAG:
    def echo(**context: Any) -> dict[str, Any]:
        return {"conf": context["dag_run"].conf, "ds": context["ds"]}

    with DAG("target", schedule="@daily", start_date=START,
             params={"n": Param(1, type="integer")}) as dag:
        PythonOperator(task_id="echo", python_callable=echo)
    return dag


def _run(engine: Engine, dag: DAG, when: datetime = START) -> DagRunRecord:
    with using_store(engine.store):
        return engine.run_to_end(engine.trigger(dag, when))


def test_the_triggered_run_is_planned_from_the_stored_dag_and_runs() -> None:
    target = _target()
    controller = _controller(conf={"n": 3}, logical_date="2026-02-02")
    engine = _known(controller, target)
    assert _run(engine, controller).state is DagRunState.SUCCESS
    run = engine.store.runs.get("target", "manual__2026-02-02T00:00:00+00:00")
    assert run is not None and run.conf == {"n": 3} and run.run_type == "manual"
    # The data interval comes from the target's own schedule (daily): as for any manual
    # run, the last day complete at the logical date.
    assert (run.data_interval_start, run.data_interval_end) == (
        datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC))
    finished = _run_existing(engine, run)
    assert engine.states(finished) == {"echo": "success"}
    echoed = engine.store.xcoms.get_xcom("target", run.run_id, "echo", -1, "return_value")
    assert json.loads(echoed or "null") == {"conf": {"n": 3}, "ds": "2026-02-02"}


def _run_existing(engine: Engine, run: DagRunRecord) -> DagRunRecord:
    engine.scheduler.poke()
    with using_store(engine.store):
        return engine.run_to_end(run)


def test_a_conf_the_target_params_refuse_fails_the_task_and_creates_nothing() -> None:
    controller = _controller(conf={"n": "three"})
    engine = _known(controller, _target())
    run = _run(engine, controller)
    assert run.state is DagRunState.FAILED
    error = engine.ti(run, "go").error or ""
    assert ("InvalidInputError: DAG 'controller', task 'go': conf for DAG 'target' does not "
            "fit the DAG's params: param 'n'") in error
    assert engine.store.runs.list("target") == []


def test_reset_dag_run_clears_the_finished_run_so_that_it_runs_again() -> None:
    target = _target()
    first = _controller(logical_date="2026-02-02")
    with DAG("resetter", schedule=None) as resetter:
        TriggerDagRunOperator(task_id="go", trigger_dag_id="target", logical_date="2026-02-02",
                              reset_dag_run=True)
    engine = _known(first, resetter, target)
    _run(engine, first)
    triggered = engine.store.runs.list("target")[0]
    assert _run_existing(engine, triggered).state is DagRunState.SUCCESS
    assert engine.ti(triggered, "echo").try_number == 1

    assert _run(engine, resetter).state is DagRunState.SUCCESS
    again = engine.run_record(triggered)
    assert again.state is DagRunState.QUEUED
    assert engine.ti(again, "echo").state is TaskState.NONE
    assert [a.event for a in engine.store.audit.list()][:2] == ["clear", "trigger"]
    assert engine.store.audit.list()[0].who == "dag:resetter.go"
    rerun = _run_existing(engine, again)
    assert rerun.state is DagRunState.SUCCESS
    assert engine.ti(rerun, "echo").try_number == 2
    assert len(engine.store.runs.list("target")) == 1


def test_a_dag_the_store_does_not_know_fails_the_task_when_the_store_knows_its_own() -> None:
    controller = _controller()
    with DAG("other", schedule=None) as other:
        EmptyOperator(task_id="noop")
    engine = _known(controller)
    engine.set_dags(other)
    run = _run(engine, controller)
    assert run.state is DagRunState.FAILED
    assert "no DAG 'target' in the store" in (engine.ti(run, "go").error or "")
    assert engine.store.runs.list("target") == []


def test_fail_when_dag_is_paused_fails_without_triggering_and_otherwise_triggers() -> None:
    engine = _known(_controller(fail_when_dag_is_paused=True, note="from the test"), _target())
    engine.store.dags.set_paused("target", True)
    run = _run(engine, engine.dags["controller"])
    assert run.state is DagRunState.FAILED
    assert "DAG 'target' is paused, and fail_when_dag_is_paused is set" in (
        engine.ti(run, "go").error or "")
    assert engine.ti(run, "go").state is TaskState.FAILED
    assert engine.store.runs.list("target") == []

    engine.store.dags.set_paused("target", False)
    again = _run(engine, engine.dags["controller"], datetime(2026, 1, 2, tzinfo=UTC))
    assert again.state is DagRunState.SUCCESS
    assert len(engine.store.runs.list("target")) == 1


def test_allowed_states_may_name_failed_when_failed_states_are_the_default() -> None:
    with DAG("overlap", schedule=None):
        task = TriggerDagRunOperator(task_id="go", trigger_dag_id="t",
                                     allowed_states=["success", "failed"])
    assert task.failed_states == [DagRunState.FAILED]
