"""TriggerDagRunOperator through the real scheduler process, on SQLite and PostgreSQL.

The triggered run is created by the task in the metadata store, started by the scheduler
like any other run, and waited for: the waiting task succeeds when the run does and fails
when it fails. A logical date already taken fails the task, or, with reset_dag_run,
clears that run so it runs again.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ENGINE_TESTS = Path(__file__).resolve().parent.parent / "engine"
if str(ENGINE_TESTS) not in sys.path:  # the engine tests' homes and helpers, reused
    sys.path.insert(0, str(ENGINE_TESTS))

from engine_helpers import Home, wait_for  # noqa: E402

from millstream.model.states import DagRunState, TaskState  # noqa: E402


def _engine_fixtures() -> object:
    spec = importlib.util.spec_from_file_location("engine_test_fixtures_for_trigger",
                                                  ENGINE_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _engine_fixtures()
database_url = _fixtures.database_url  # type: ignore[attr-defined]
home = _fixtures.home  # type: ignore[attr-defined]

DAGS = """
    from millstream import DAG, Param
    from millstream.operators.python import PythonOperator
    from millstream.operators.trigger_dagrun import TriggerDagRunOperator

    def echo(**context):
        print("echo try", context["ti"].try_number)
        return {"conf": context["dag_run"].conf, "ds": context["ds"]}

    def broken():
        raise RuntimeError("the target breaks")

    def report(**context):
        return context["ti"].xcom_pull(task_ids="trigger", key="trigger_run_id")

    with DAG("target", schedule=None, params={"n": Param(1, type="integer")}) as target:
        PythonOperator(task_id="echo", python_callable=echo)

    with DAG("broken_target", schedule=None) as broken_target:
        PythonOperator(task_id="boom", python_callable=broken)

    def controller(dag_id, trigger_dag_id, **kwargs):
        with DAG(dag_id, schedule=None, params={"n": 7}) as dag:
            trigger = TriggerDagRunOperator(
                task_id="trigger", trigger_dag_id=trigger_dag_id, logical_date="{{ ds }}",
                wait_for_completion=True, poke_interval=0.2, **kwargs)
            trigger >> PythonOperator(task_id="report", python_callable=report)
        return dag

    first = controller("controller", "target", conf={"n": 7, "who": "{{ dag.dag_id }}"})
    again = controller("again", "target")
    rerun = controller("rerun", "target", reset_dag_run=True)
    waits_for_failure = controller("waits_for_failure", "broken_target")
    deferred = controller("deferred", "target", deferrable=True)
    deferred_failure = controller("deferred_failure", "broken_target", deferrable=True)
"""


def _finished(home: Home, dag_id: str, run_id: str, state: DagRunState, log: str) -> None:
    run = wait_for(lambda: home.finished_run(dag_id, run_id), 90, f"{dag_id} to finish",
                   lambda: "\n".join([home.describe(dag_id), home.describe("target"), log]))
    assert run.state is state, home.describe(dag_id) + "\n" + home.describe("target")


def test_a_triggered_run_is_run_by_the_scheduler_and_waited_for(home: Home) -> None:
    home.write_dag("controllers.py", DAGS)
    scheduler = home.start("scheduler")
    wait_for(lambda: home.parsed("controller") and home.parsed("target"), 60,
             "the scheduler to parse the DAGs", scheduler.tail)
    store = home.store()

    run_id = home.trigger("controller")
    _finished(home, "controller", run_id, DagRunState.SUCCESS, scheduler.tail())
    controller_run = home.run("controller", run_id)
    assert controller_run is not None
    day = controller_run.logical_date.date().isoformat()
    (target_run,) = home.runs("target")
    assert target_run.run_id == f"manual__{day}T00:00:00+00:00"
    assert (target_run.run_type, target_run.state) == ("manual", DagRunState.SUCCESS)
    assert target_run.conf == {"n": 7, "who": "controller"}
    assert target_run.end_date is not None
    trigger = home.instance("controller", run_id, "trigger")
    assert trigger.end_date is not None and trigger.end_date >= target_run.end_date
    echoed = store.xcoms.get_xcom("target", target_run.run_id, "echo", -1, "return_value")
    assert json.loads(echoed or "null") == {"conf": {"n": 7, "who": "controller"}, "ds": day}
    assert store.xcoms.get_xcom("controller", run_id, "trigger", -1, "trigger_run_id") == \
        json.dumps(target_run.run_id)
    assert store.xcoms.get_xcom("controller", run_id, "report", -1, "return_value") == \
        json.dumps(target_run.run_id)
    audits = [a for a in store.audit.list("target") if a.event == "trigger"]
    assert [(a.who, a.run_id) for a in audits] == [("dag:controller.trigger", target_run.run_id)]

    # The same logical date again: a clear failure naming the run, nothing created.
    again = home.trigger("again")
    _finished(home, "again", again, DagRunState.FAILED, scheduler.tail())
    error = home.instance("again", again, "trigger").error or ""
    assert "DagRunAlreadyExists" in error and target_run.run_id in error
    assert home.instance("again", again, "report").state is TaskState.UPSTREAM_FAILED

    # With reset_dag_run the finished run is cleared, runs again, and is waited for.
    rerun = home.trigger("rerun")
    _finished(home, "rerun", rerun, DagRunState.SUCCESS, scheduler.tail())
    assert [r.run_id for r in home.runs("target")] == [target_run.run_id]
    echo = home.instance("target", target_run.run_id, "echo")
    assert (echo.state, echo.try_number) == (TaskState.SUCCESS, 2)
    assert store.xcoms.get_xcom("rerun", rerun, "trigger", -1, "trigger_run_id") == \
        json.dumps(target_run.run_id)
    assert [a.who for a in store.audit.list("target") if a.event == "clear"] == [
        "dag:rerun.trigger"]


def test_the_waiting_task_fails_when_the_triggered_run_fails(home: Home) -> None:
    home.write_dag("controllers.py", DAGS)
    scheduler = home.start("scheduler")
    wait_for(lambda: home.parsed("waits_for_failure"), 60, "the scheduler to parse the DAGs",
             scheduler.tail)
    run_id = home.trigger("waits_for_failure")
    _finished(home, "waits_for_failure", run_id, DagRunState.FAILED, scheduler.tail())
    (broken,) = home.runs("broken_target")
    assert broken.state is DagRunState.FAILED
    trigger = home.instance("waits_for_failure", run_id, "trigger")
    assert trigger.state is TaskState.FAILED
    assert f"TriggeredRunFailed: DAG 'waits_for_failure', task 'trigger': run " \
           f"'{broken.run_id}' of DAG 'broken_target' ended failed" in (trigger.error or "")


def test_a_deferrable_wait_is_done_by_the_triggerer(home: Home) -> None:
    home.write_dag("controllers.py", DAGS)
    scheduler = home.start("scheduler")
    triggerer = home.start("triggerer")
    wait_for(lambda: home.parsed("deferred") and home.parsed("deferred_failure"), 60,
             "the scheduler to parse the DAGs", scheduler.tail)

    run_id = home.trigger("deferred")
    _finished(home, "deferred", run_id, DagRunState.SUCCESS,
              scheduler.tail() + "\n" + triggerer.tail())
    (target_run,) = home.runs("target")
    assert target_run.state is DagRunState.SUCCESS
    trigger = home.instance("deferred", run_id, "trigger")
    assert (trigger.state, trigger.try_number) == (TaskState.SUCCESS, 1)
    log = (home.logs / "deferred").rglob("*.log")
    text = "\n".join(path.read_text() for path in log if "trigger" in str(path))
    assert "deferred: " in text and "resuming in execute_complete()" in text, text
    assert "waiting for run" not in text  # no polling from the worker

    failing = home.trigger("deferred_failure")
    _finished(home, "deferred_failure", failing, DagRunState.FAILED,
              scheduler.tail() + "\n" + triggerer.tail())
    (broken,) = home.runs("broken_target")
    error = home.instance("deferred_failure", failing, "trigger").error or ""
    assert f"run '{broken.run_id}' of DAG 'broken_target' ended failed" in error, error
