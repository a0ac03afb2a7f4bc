"""End to end: the real scheduler runs a DAG to success over each store, with the same outcome."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from millstream import DAG, task
from millstream.model.states import FINISHED_RUN_STATES, DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import BranchPythonOperator, PythonOperator
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey
from millstream.testing import in_process_scheduler

START = datetime(2026, 1, 1, tzinfo=UTC)


class StepClock:
    """A clock that moves one second per reading, so every event has its own moment."""

    def __init__(self) -> None:
        self.now = START + timedelta(days=2)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def build_dag() -> DAG:
    """Mapping over an upstream XCom, a branch, a skip, and a task that needs a retry."""
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return "recovered"

    with DAG("store_e2e", start_date=START, schedule="@daily") as dag:
        @task
        def extract() -> list[int]:
            return [3, 1, 2]

        @task
        def double(x: int) -> int:
            return 2 * x

        @task
        def total(values: list[int]) -> int:
            return sum(values)

        summed = total(double.expand(x=extract()))
        branch = BranchPythonOperator(task_id="choose", python_callable=lambda: "report")
        report = PythonOperator(task_id="report", python_callable=flaky, retries=1,
                                retry_delay=timedelta(0))
        archive = EmptyOperator(task_id="archive")
        summed >> branch >> [report, archive]
    return dag


def run_to_end(store: Store, dag: DAG, clock: Callable[[], datetime]) -> DagRunRecord:
    scheduler = in_process_scheduler(store, [dag], clock)
    interval = dag.timetable.data_interval_for(START)
    run = scheduler.trigger(dag.dag_id, START, interval, clock())
    for _ in range(100):
        current = store.runs.get(run.dag_id, run.run_id)
        assert current is not None
        if current.state in FINISHED_RUN_STATES:
            return current
        result = scheduler.tick(clock())
        assert result.worked or result.next_wakeup is not None, "the run is stuck"
    raise AssertionError("the run did not finish in 100 ticks")


def outcome(store: Store, run: DagRunRecord) -> dict[str, tuple[str, int]]:
    return {
        ti.label: (ti.state.value, ti.try_number)
        for ti in store.task_instances.for_run(run.dag_id, run.run_id)
    }


def test_a_dag_runs_to_success_through_the_scheduler(store: Store) -> None:
    dag = build_dag()
    run = run_to_end(store, dag, StepClock())
    assert run.state is DagRunState.SUCCESS
    assert run.start_date is not None and run.end_date is not None
    assert run.end_date.tzinfo is not None and run.end_date > run.start_date
    assert outcome(store, run) == {
        "extract": ("success", 1),
        "double[0]": ("success", 1),
        "double[1]": ("success", 1),
        "double[2]": ("success", 1),
        "total": ("success", 1),
        "choose": ("success", 1),
        "report": ("success", 2),
        "archive": ("skipped", 0),
    }
    xcoms = store.xcoms
    assert [json.loads(t) for t in xcoms.get_mapped_xcoms(dag.dag_id, run.run_id, "double",
                                                          "return_value")] == [6, 2, 4]
    assert xcoms.get_xcom(dag.dag_id, run.run_id, "total", -1, "return_value") == "12"
    tries = store.task_instances.tries(TaskInstanceKey(dag.dag_id, run.run_id, "report"))
    assert [(t.try_number, t.state) for t in tries] == [
        (1, TaskState.UP_FOR_RETRY), (2, TaskState.SUCCESS)
    ]
    assert "first try fails" in (tries[0].error or "")
    report = store.task_instances.get(TaskInstanceKey(dag.dag_id, run.run_id, "report"))
    assert report is not None and report.hostname and report.pid
    assert report.start_date is not None and report.start_date.tzinfo is not None
