"""The scheduler job in this process over a real store and the local executor: runs end to end.

A scheduled DAG with catchup gets one run per missed interval, within max_active_runs,
and a second job on the same store creates nothing more; a manually triggered run goes
through a branch, a mapped task, a retry and XComs, leaving tries and logs behind.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from engine_helpers import Home, run_job

from millstream.cli.engine import scheduler_job
from millstream.model.states import DagRunState, TaskState
from millstream.runtime.worker import try_log_path
from millstream.store.records import DagRunRecord, TaskInstanceKey

CATCHUP_DAG = """
    import time
    from datetime import datetime, timezone

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def work(**context):
        time.sleep(0.2)
        print("working on", context["ds"])
        return context["ds"]

    with DAG("daily_catchup", schedule="@daily", start_date=datetime({start}, tzinfo=timezone.utc),
             catchup=True, max_active_runs=2) as dag:
        extract = PythonOperator(task_id="extract", python_callable=work)
        load = PythonOperator(task_id="load", python_callable=work)
        extract >> load
"""

DAYS_BACK = 4


def days_due(start: datetime, now: datetime) -> list[datetime]:
    """The logical dates of every daily interval from ``start`` that has ended by ``now``."""
    dates = []
    day = start
    while day + timedelta(days=1) <= now:
        dates.append(day)
        day += timedelta(days=1)
    return dates


def most_at_once(runs: list[DagRunRecord]) -> int:
    """The most runs whose [start, end) spans overlapped at any moment."""
    moments = []
    for run in runs:
        assert run.start_date is not None and run.end_date is not None
        moments += [(run.start_date, 1), (run.end_date, -1)]
    most = active = 0
    for _, change in sorted(moments):  # at one moment, an end (-1) sorts before a start
        active += change
        most = max(most, active)
    return most


def test_catchup_creates_one_run_per_missed_day_within_max_active_runs(home: Home) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=DAYS_BACK)
    home.write_dag("daily_catchup.py",
                   CATCHUP_DAG.format(start=f"{start.year}, {start.month}, {start.day}"))
    expected = days_due(start, datetime.now(UTC))
    assert len(expected) == DAYS_BACK
    active_seen: list[int] = []

    def all_done() -> bool:
        runs = home.runs("daily_catchup")
        active_seen.append(sum(r.state in (DagRunState.QUEUED, DagRunState.RUNNING)
                               for r in runs))
        return len(runs) >= len(expected) and all(r.state is DagRunState.SUCCESS
                                                  for r in runs)

    with scheduler_job(home.settings()) as job:
        run_job(job, all_done, 30, "every missed day to run",
                lambda: home.describe("daily_catchup"))

    runs = home.runs("daily_catchup")
    dates = [r.logical_date for r in runs]
    # A day may have ended while the test ran; then there is one run more, never a gap.
    assert dates in (expected, days_due(start, datetime.now(UTC)))
    for run in runs:
        assert run.run_type == "scheduled"
        assert run.state is DagRunState.SUCCESS
        assert run.data_interval_start == run.logical_date
        assert run.data_interval_end == run.logical_date + timedelta(days=1)
        assert run.start_date is not None and run.start_date >= run.data_interval_end
        states = {label: (ti.state, ti.try_number)
                  for label, ti in home.instances("daily_catchup", run.run_id).items()}
        assert states == {"extract": (TaskState.SUCCESS, 1), "load": (TaskState.SUCCESS, 1)}
    assert max(active_seen) <= 2
    assert most_at_once(runs) <= 2

    # A second scheduler over the same store finds nothing left to create.
    with scheduler_job(home.settings()) as second:
        for _ in range(3):
            second.step(datetime.now(UTC))
        assert second.active_runs() == 0
    assert [r.run_id for r in home.runs("daily_catchup")] == [r.run_id for r in runs]


MANUAL_DAG = """
    import os
    from datetime import timedelta

    from millstream import DAG, task
    from millstream.operators.empty import EmptyOperator
    from millstream.operators.python import BranchPythonOperator, PythonOperator

    MARKER = {marker!r}

    def choose(**context):
        summed = context["ti"].xcom_pull(task_ids="total")
        return "report" if summed > 10 else "archive"

    def report(**context):
        ti = context["ti"]
        print(f"report try {{ti.try_number}}")
        if not os.path.exists(MARKER):
            with open(MARKER, "w") as marker:
                marker.write("failed once")
            raise RuntimeError("the first try fails on purpose")
        summed = ti.xcom_pull(task_ids="total")
        print(f"report pulled total={{summed}}")
        return {{"total": summed}}

    with DAG("manual_flow", schedule=None) as dag:
        @task
        def extract():
            return [3, 1, 2]

        @task
        def double(x):
            print(f"doubling {{x}}")
            return 2 * x

        @task
        def total(values):
            return sum(values)

        summed = total(double.expand(x=extract()))
        branch = BranchPythonOperator(task_id="choose", python_callable=choose)
        reporting = PythonOperator(task_id="report", python_callable=report, retries=1,
                                   retry_delay=timedelta(0))
        archive = EmptyOperator(task_id="archive")
        summed >> branch >> [reporting, archive]
"""


def test_a_triggered_run_branches_maps_retries_and_passes_xcoms(home: Home) -> None:
    marker = home.scratch / "report-failed-once"
    home.write_dag("manual_flow.py", MANUAL_DAG.format(marker=str(marker)))
    with scheduler_job(home.settings()) as job:
        job.step(datetime.now(UTC))  # parses the DAG into the store; nothing to run yet
        run_id = home.trigger_with_cli("manual_flow")
        run_job(job, lambda: home.finished_run("manual_flow", run_id), 30,
                "the triggered run to finish", lambda: home.describe("manual_flow"))

    run = home.run("manual_flow", run_id)
    assert run is not None and run.state is DagRunState.SUCCESS, home.describe("manual_flow")
    assert run.run_type == "manual"
    states = {label: (ti.state, ti.try_number)
              for label, ti in home.instances("manual_flow", run_id).items()}
    assert states == {
        "extract": (TaskState.SUCCESS, 1),
        "double[0]": (TaskState.SUCCESS, 1),
        "double[1]": (TaskState.SUCCESS, 1),
        "double[2]": (TaskState.SUCCESS, 1),
        "total": (TaskState.SUCCESS, 1),
        "choose": (TaskState.SUCCESS, 1),
        "report": (TaskState.SUCCESS, 2),
        "archive": (TaskState.SKIPPED, 0),
    }
    store = home.store()
    xcoms = store.xcoms
    assert [json.loads(v) for v in
            xcoms.get_mapped_xcoms("manual_flow", run_id, "double", "return_value")] == [6, 2, 4]
    assert xcoms.get_xcom("manual_flow", run_id, "total", -1, "return_value") == "12"
    pulled = xcoms.get_xcom("manual_flow", run_id, "report", -1, "return_value")
    assert pulled is not None and json.loads(pulled) == {"total": 12}

    report_key = TaskInstanceKey("manual_flow", run_id, "report")
    tries = store.task_instances.tries(report_key)
    assert [(t.try_number, t.state) for t in tries] == [
        (1, TaskState.UP_FOR_RETRY), (2, TaskState.SUCCESS)
    ]
    assert "the first try fails on purpose" in (tries[0].error or "")
    assert marker.read_text() == "failed once"

    first_log = try_log_path(home.logs, report_key, 1).read_text()
    assert "report try 1" in first_log
    assert "the first try fails on purpose" in first_log
    second_log = try_log_path(home.logs, report_key, 2).read_text()
    assert "report try 2" in second_log
    assert "report pulled total=12" in second_log
    mapped_log = try_log_path(home.logs, TaskInstanceKey("manual_flow", run_id, "double", 1), 1)
    assert "doubling 1" in mapped_log.read_text()
    assert not try_log_path(home.logs, TaskInstanceKey("manual_flow", run_id, "archive"),
                            1).exists()
