"""Task and DAG callbacks: called with their context, and harmless when they fail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.scheduler.callbacks import InlineCallbackRunner

from .harness import START, Engine


class Recorder:
    """Callbacks that remember what they were called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str) -> Any:
        def callback(context: dict[str, Any]) -> None:
            ti = context.get("ti")
            self.calls.append((name, {
                "task_id": ti.task_id if ti is not None else None,
                "try_number": ti.try_number if ti is not None else None,
                "run_id": context["run_id"],
                "ds": context["ds"],
                "exception": context.get("exception"),
                "reason": context.get("reason"),
                "dag_id": context["dag"].dag_id,
                "dag_run_state": context["dag_run"].state,
                "params": context.get("params"),
            }))
        return callback

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _task_callbacks(recorder: Recorder) -> dict[str, Any]:
    return {
        "on_execute_callback": recorder("execute"),
        "on_success_callback": recorder("success"),
        "on_retry_callback": recorder("retry"),
        "on_failure_callback": recorder("failure"),
    }


def test_success_path_calls_execute_then_success_with_the_task_context() -> None:
    recorder = Recorder()
    dag = DAG("cb_success", start_date=START)
    PythonOperator(task_id="ok", python_callable=lambda: 1, dag=dag, **_task_callbacks(recorder))
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert recorder.names() == ["execute", "success"]
    for _, seen in recorder.calls:
        assert seen["task_id"] == "ok"
        assert seen["try_number"] == 1
        assert seen["run_id"] == run.run_id
        assert seen["ds"] == "2026-01-01"
        assert seen["exception"] is None


def test_retry_then_failure_callbacks_receive_the_exception_and_try_number() -> None:
    recorder = Recorder()

    def boom(ti: Any) -> None:
        raise ValueError(f"bad try {ti.try_number}")

    dag = DAG("cb_retry_failure", start_date=START)
    PythonOperator(task_id="boom", python_callable=boom, retries=1,
                   retry_delay=timedelta(seconds=1), dag=dag, **_task_callbacks(recorder))
    engine = Engine(dag)
    engine.run_to_end(engine.trigger(dag))
    assert recorder.names() == ["execute", "retry", "execute", "failure"]
    retry, failure = recorder.calls[1][1], recorder.calls[3][1]
    assert retry["try_number"] == 1
    assert isinstance(retry["exception"], ValueError)
    assert str(retry["exception"]) == "bad try 1"
    assert failure["try_number"] == 2
    assert str(failure["exception"]) == "bad try 2"


def test_a_list_of_callbacks_is_called_in_order() -> None:
    recorder = Recorder()
    dag = DAG("cb_list", start_date=START)
    EmptyOperator(task_id="t", on_success_callback=[recorder("first"), recorder("second")],
                  dag=dag)
    engine = Engine(dag)
    engine.run_to_end(engine.trigger(dag))
    assert recorder.names() == ["first", "second"]


def test_failing_task_callbacks_do_not_change_outcomes_or_break_the_run() -> None:
    def broken(context: dict[str, Any]) -> None:
        raise RuntimeError("callback bug")

    ran: list[str] = []
    dag = DAG("cb_broken", start_date=START)
    ok = PythonOperator(task_id="ok", python_callable=lambda: ran.append("ok"),
                        on_execute_callback=broken, on_success_callback=broken, dag=dag)
    bad = PythonOperator(task_id="bad", python_callable=lambda: 1 / 0,
                         on_failure_callback=broken, dag=dag)
    after = PythonOperator(task_id="after", python_callable=lambda: ran.append("after"), dag=dag)
    cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done", dag=dag)
    ok >> after
    bad >> cleanup
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert ran == ["ok", "after"]
    assert engine.states(run) == {
        "ok": "success", "bad": "failed", "after": "success", "cleanup": "success",
    }
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_dag_success_callback_gets_the_run_and_reason() -> None:
    recorder = Recorder()
    dag = DAG("dag_cb_success", start_date=START, params={"size": 3},
              on_success_callback=recorder("dag_success"),
              on_failure_callback=recorder("dag_failure"))
    EmptyOperator(task_id="t", dag=dag)
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag, conf={"size": 5}))
    assert recorder.names() == ["dag_success"]
    seen = recorder.calls[0][1]
    assert seen["reason"] == "success"
    assert seen["run_id"] == run.run_id
    assert seen["dag_id"] == "dag_cb_success"
    assert seen["dag_run_state"] is DagRunState.SUCCESS
    assert seen["params"]["size"] == 5


def test_dag_failure_callback_gets_task_failure_reason() -> None:
    recorder = Recorder()
    dag = DAG("dag_cb_failure", start_date=START,
              on_success_callback=recorder("dag_success"),
              on_failure_callback=recorder("dag_failure"))
    PythonOperator(task_id="bad", python_callable=lambda: 1 / 0, dag=dag)
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.run_record(run).state is DagRunState.FAILED
    assert recorder.names() == ["dag_failure"]
    assert recorder.calls[0][1]["reason"] == "task_failure"
    assert recorder.calls[0][1]["dag_run_state"] is DagRunState.FAILED


def test_a_failing_dag_callback_is_logged_and_the_scheduler_goes_on(caplog: Any) -> None:
    def broken(context: dict[str, Any]) -> None:
        raise RuntimeError("dag callback bug")

    first = DAG("dag_cb_broken", start_date=START, on_success_callback=broken)
    EmptyOperator(task_id="t", dag=first)
    second = DAG("dag_cb_other", start_date=START)
    EmptyOperator(task_id="t", dag=second)
    engine = Engine(first, second)
    run1 = engine.trigger(first)
    run2 = engine.trigger(second)
    engine.run_to_end(run1)
    engine.run_to_end(run2)
    assert engine.run_record(run1).state is DagRunState.SUCCESS
    assert engine.run_record(run2).state is DagRunState.SUCCESS
    assert "dag callback bug" in caplog.text


def test_custom_callback_runner_receives_each_finished_run() -> None:
    finished: list[tuple[str, bool, str]] = []

    class Collecting(InlineCallbackRunner):
        def dag_run_finished(self, dag: DAG, run: Any, success: bool, reason: str) -> None:
            finished.append((run.run_id, success, reason))

    dag = DAG("custom_runner", start_date=START)
    PythonOperator(task_id="bad", python_callable=lambda: 1 / 0, dag=dag)
    engine = Engine(dag, callbacks=Collecting({}))
    run = engine.run_to_end(engine.trigger(dag))
    assert finished == [(run.run_id, False, "task_failure")]
    assert engine.ti(run, "bad").state is TaskState.FAILED
