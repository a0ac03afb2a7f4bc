"""run_task_try: one try of one task, from its context to the event that reports it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from millstream import DAG
from millstream.exceptions import TaskFailedNoRetry, TaskSkipped
from millstream.model.states import TaskState
from millstream.operators.bash import BashOperator
from millstream.operators.python import BranchPythonOperator, PythonOperator
from millstream.runtime.events import TaskWorkload
from millstream.runtime.task_runner import run_task_try
from millstream.store.memory import MemoryXComRepo
from millstream.store.records import DagRunRecord, TaskInstanceKey

LOGICAL = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


class StepClock:
    """Each call is one second after the previous one."""

    def __init__(self) -> None:
        self.moment = LOGICAL

    def __call__(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


def _run(task: Any, try_number: int = 1, max_tries: int = 0, params: dict[str, Any] | None = None,
         xcoms: MemoryXComRepo | None = None, conf: dict[str, Any] | None = None,
         map_index: int = -1) -> Any:
    run = DagRunRecord(
        dag_id=task.dag.dag_id, run_id="manual__x", logical_date=LOGICAL,
        data_interval_start=LOGICAL - timedelta(days=1), data_interval_end=LOGICAL,
        conf=conf or {},
    )
    key = TaskInstanceKey(task.dag.dag_id, run.run_id, task.task_id, map_index)
    workload = TaskWorkload(key, try_number, max_tries, run, params or {})
    return run_task_try(task, workload, xcoms if xcoms is not None else MemoryXComRepo(),
                        StepClock())


def _python(fn: Any, **kwargs: Any) -> PythonOperator:
    dag = DAG("runner", start_date=LOGICAL)
    return PythonOperator(task_id="t", python_callable=fn, dag=dag, **kwargs)


def test_success_reports_the_return_value_as_json_and_the_clock_times() -> None:
    event = _run(_python(lambda: {"rows": 3, "ok": True}))
    assert event.state is TaskState.SUCCESS
    assert event.xcoms == (("return_value", '{"rows":3,"ok":true}'),)
    assert event.error is None
    assert event.try_number == 1
    assert event.start_date == LOGICAL + timedelta(seconds=1)
    assert event.end_date == LOGICAL + timedelta(seconds=2)


def test_none_or_disabled_push_sends_no_xcom() -> None:
    assert _run(_python(lambda: None)).xcoms == ()
    assert _run(_python(lambda: 5, do_xcom_push=False)).xcoms == ()


def test_multiple_outputs_pushes_each_key_and_the_whole_dict() -> None:
    event = _run(_python(lambda: {"a": 1, "b": [2]}, multiple_outputs=True))
    assert dict(event.xcoms) == {"a": "1", "b": "[2]", "return_value": '{"a":1,"b":[2]}'}


def test_multiple_outputs_with_a_non_dict_fails_naming_the_task() -> None:
    event = _run(_python(lambda: [1, 2], multiple_outputs=True))
    assert event.state is TaskState.FAILED
    assert "task 't' has multiple_outputs=True but returned list" in (event.error or "")


def test_the_callable_gets_the_context_keys_it_asks_for() -> None:
    seen: dict[str, Any] = {}

    def grab(ds: str, ds_nodash: str, ts: str, logical_date: datetime, execution_date: datetime,
             data_interval_start: datetime, data_interval_end: datetime, run_id: str,
             dag: Any, task: Any, ti: Any, task_instance: Any, dag_run: Any, params: Any,
             conf: Any, macros: Any) -> None:
        seen.update(locals())

    _run(_python(grab, params={"p": 1}), params={"q": 2}, conf={"c": 3}, try_number=2,
         max_tries=4)
    assert seen["ds"] == "2026-03-04"
    assert seen["ds_nodash"] == "20260304"
    assert seen["ts"] == "2026-03-04T05:06:07+00:00"
    assert seen["logical_date"] == seen["execution_date"] == LOGICAL
    assert seen["data_interval_start"] == LOGICAL - timedelta(days=1)
    assert seen["data_interval_end"] == LOGICAL
    assert seen["run_id"] == "manual__x"
    assert seen["dag"].dag_id == "runner"
    assert seen["task"].task_id == "t"
    assert seen["ti"] is seen["task_instance"]
    assert (seen["ti"].try_number, seen["ti"].max_tries) == (2, 4)
    assert seen["dag_run"].run_id == "manual__x"
    assert seen["params"] == {"p": 1, "q": 2}
    assert seen["conf"] == {"c": 3}
    assert seen["macros"].__name__.endswith("macros")


def test_templated_arguments_are_rendered_without_changing_the_dag_task() -> None:
    got: list[Any] = []
    task = _python(lambda day, run: got.append((day, run)),
                   op_kwargs={"day": "{{ ds }}", "run": "{{ run_id }}"})
    event = _run(task)
    assert event.state is TaskState.SUCCESS
    assert got == [("2026-03-04", "manual__x")]
    assert task.op_kwargs == {"day": "{{ ds }}", "run": "{{ run_id }}"}


def test_a_template_error_fails_the_try() -> None:
    event = _run(_python(lambda x: x, op_kwargs={"x": "{{ no_such_variable }}"}))
    assert event.state is TaskState.FAILED
    assert "no_such_variable" in (event.error or "")


def test_task_skipped_ends_the_try_skipped() -> None:
    def skip() -> None:
        raise TaskSkipped("no data today")

    event = _run(_python(skip), max_tries=3)
    assert event.state is TaskState.SKIPPED
    assert event.xcoms == ()


def test_a_failure_with_tries_left_is_up_for_retry_and_carries_the_traceback() -> None:
    def broken() -> None:
        raise KeyError("missing column")

    event = _run(_python(broken), try_number=1, max_tries=1)
    assert event.state is TaskState.UP_FOR_RETRY
    assert event.error.startswith("KeyError: 'missing column'")
    assert "Traceback" in event.error and "broken" in event.error
    event = _run(_python(broken), try_number=2, max_tries=1)
    assert event.state is TaskState.FAILED


def test_task_failed_no_retry_fails_with_tries_left() -> None:
    def give_up() -> None:
        raise TaskFailedNoRetry("bad credentials")

    event = _run(_python(give_up), try_number=1, max_tries=5)
    assert event.state is TaskState.FAILED
    assert "bad credentials" in (event.error or "")


def test_xcoms_pushed_before_a_failure_are_not_reported() -> None:
    def push_then_fail(ti: Any) -> None:
        ti.xcom_push("partial", 1)
        raise RuntimeError("half way")

    assert _run(_python(push_then_fail)).xcoms == ()


def test_branch_skip_requests_are_reported_only_on_success() -> None:
    dag = DAG("branching", start_date=LOGICAL)
    branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "a", dag=dag)
    for name in ("a", "b", "c"):
        branch >> PythonOperator(task_id=name, python_callable=lambda: None, dag=dag)
    event = _run(branch)
    assert event.state is TaskState.SUCCESS
    assert event.skip_task_ids == ("b", "c")
    assert event.xcoms == (("return_value", '"a"'),)

    bad = BranchPythonOperator(task_id="bad", python_callable=lambda: "nowhere", dag=dag)
    bad >> dag.task_dict["a"]
    event = _run(bad)
    assert event.state is TaskState.FAILED
    assert event.skip_task_ids == ()
    assert "nowhere" in (event.error or "")


@pytest.mark.parametrize(("outcome", "expected"), [
    ("ok", ["execute", "success"]),
    ("retry", ["execute", "retry"]),
    ("fail", ["execute", "failure"]),
    ("skip", ["execute"]),
])
def test_callbacks_follow_the_outcome(outcome: str, expected: list[str]) -> None:
    calls: list[str] = []

    def body() -> None:
        if outcome == "retry" or outcome == "fail":
            raise RuntimeError(outcome)
        if outcome == "skip":
            raise TaskSkipped()

    def record(name: str) -> Any:
        def callback(context: dict[str, Any]) -> None:
            assert context["ti"].task_id == "t"
            calls.append(name)
        return callback

    task = _python(body, on_execute_callback=record("execute"),
                   on_success_callback=record("success"), on_retry_callback=record("retry"),
                   on_failure_callback=record("failure"))
    _run(task, max_tries=1 if outcome == "retry" else 0)
    assert calls == expected


def test_a_callback_that_raises_does_not_change_the_outcome(caplog: Any) -> None:
    def broken(context: dict[str, Any]) -> None:
        raise RuntimeError("callback exploded")

    event = _run(_python(lambda: 1, on_execute_callback=broken, on_success_callback=broken))
    assert event.state is TaskState.SUCCESS
    assert event.xcoms == (("return_value", "1"),)
    assert "callback exploded" in caplog.text


def test_a_bash_task_reports_its_last_line_and_fails_on_a_non_zero_exit() -> None:
    dag = DAG("bash_runner", start_date=LOGICAL)
    ok = BashOperator(task_id="ok", bash_command="echo first; echo {{ ds }}", dag=dag)
    event = _run(ok)
    assert event.state is TaskState.SUCCESS
    assert event.xcoms == (("return_value", '"2026-03-04"'),)
    bad = BashOperator(task_id="bad", bash_command="exit 3", dag=dag)
    event = _run(bad)
    assert event.state is TaskState.FAILED
    assert "exited with code 3" in (event.error or "")


def test_a_task_calling_sys_exit_fails_instead_of_stopping_the_runner() -> None:
    event = _run(_python(lambda: sys.exit(3)))
    assert event.state is TaskState.FAILED
    assert "SystemExit" in (event.error or "")


def test_a_task_calling_sys_exit_zero_succeeds() -> None:
    event = _run(_python(lambda: sys.exit(0)))
    assert event.state is TaskState.SUCCESS
    assert event.xcoms == ()


@pytest.mark.parametrize(("body", "max_tries", "callback", "state"), [
    (lambda: 1, 0, "on_success_callback", "success"),
    (lambda: 1 / 0, 1, "on_retry_callback", "up_for_retry"),
    (lambda: 1 / 0, 0, "on_failure_callback", "failed"),
])
def test_callbacks_see_the_outcome_and_duration_on_the_task_instance(
    body: Any, max_tries: int, callback: str, state: str
) -> None:
    seen: dict[str, Any] = {}

    def record(context: dict[str, Any]) -> None:
        ti = context["task_instance"]
        seen.update(state=ti.state, duration=ti.duration, end=ti.end_date,
                    tries=(ti.try_number, ti.max_tries))

    event = _run(_python(body, **{callback: record}), max_tries=max_tries)
    assert event.state.value == state
    # StepClock: the try starts at +1 s and ends at +2 s.
    assert seen == {"state": state, "duration": 1.0, "end": event.end_date, "tries": (1, max_tries)}
