"""Sensors run by real millstream processes (scheduler, local executor, triggerer) over
SQLite and PostgreSQL: one DAG waits for another DAG's task, and for a file.

The DAG with the sensor is triggered first and must be seen waiting (rescheduled, or
deferred to the triggerer) before the upstream DAG is triggered for the same logical
date; the sensor then lets its run through, or fails it at once naming the upstream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine_helpers import Home, wait_for

from millstream.model.states import FINISHED_TASK_STATES, DagRunState, TaskState
from millstream.services import trigger
from millstream.store.records import TaskInstanceRecord

DAY = datetime(2026, 1, 5, tzinfo=UTC)

INGEST_DAG = """
    from datetime import datetime, timezone

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def complete(params):
        if params["fail"]:
            raise RuntimeError("the source system is down")
        return "loaded"

    with DAG("ingest", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
             params={"fail": False}) as dag:
        PythonOperator(task_id="complete", python_callable=complete)
"""

REPORT_DAG = """
    from datetime import datetime, timezone

    from millstream import DAG
    from millstream.operators.empty import EmptyOperator
    from millstream.sensors import ExternalTaskSensor, FileSensor

    with DAG("report", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
        wait = ExternalTaskSensor(
            task_id="wait_for_ingest", external_dag_id="ingest", external_task_id="complete",
            failed_states=["failed"], check_existence=True, timeout=120, poke_interval=0.2,
            {mode},
        )
        landing = FileSensor(task_id="wait_for_file", filepath="sales_{{{{ ds }}}}.csv",
                             fs_conn_id="landing", timeout=120, poke_interval=0.2, {mode})
        [wait, landing] >> EmptyOperator(task_id="publish")
"""


def _trigger_at(home: Home, dag_id: str, moment: datetime, conf: dict | None = None) -> str:
    """Queue a manual run for ``moment`` as ``millstream dags trigger --logical-date`` does."""
    return trigger.trigger_run(home.store().raw, dag_id, who="sensor-tests",
                               now=datetime.now(UTC), conf=conf, logical_date=moment).run_id


def _setup(home: Home, landing: Path, mode: str) -> None:
    landing.mkdir()
    home.settings_env["MILLSTREAM_CONN_LANDING"] = f"fs://?path={landing}"
    home.write_dag("ingest.py", INGEST_DAG)
    home.write_dag("report.py", REPORT_DAG.format(mode=mode))


def _finished(home: Home, dag_id: str, run_id: str, task_id: str) -> TaskInstanceRecord | None:
    ti = home.instance(dag_id, run_id, task_id)
    return ti if ti.state in FINISHED_TASK_STATES else None


def _describe(home: Home, *procs) -> str:
    return "\n".join([home.describe("report"), home.describe("ingest"),
                      *(p.tail() for p in procs)])


def test_rescheduled_sensors_wait_for_another_dag_and_a_file(home: Home, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _setup(home, landing, 'mode="reschedule"')
    scheduler = home.start("scheduler")
    wait_for(lambda: home.parsed("ingest") and home.parsed("report"), 60,
             "the DAGs to be parsed", scheduler.tail)

    report = _trigger_at(home, "report", DAY)
    wait_for(lambda: home.instance("report", report, "wait_for_ingest").state
             is TaskState.UP_FOR_RESCHEDULE, 60, "the external task sensor to wait",
             lambda: _describe(home, scheduler))
    (landing / "sales_2026-01-05.csv").write_text("id,amount\n1,10\n")
    ingest = _trigger_at(home, "ingest", DAY)

    run = wait_for(lambda: home.finished_run("report", report), 90,
                   "the report run to finish", lambda: _describe(home, scheduler))
    assert run.state is DagRunState.SUCCESS, _describe(home, scheduler)
    assert home.finished_run("ingest", ingest).state is DagRunState.SUCCESS
    wait = home.instance("report", report, "wait_for_ingest")
    assert (wait.state, wait.try_number) == (TaskState.SUCCESS, 1)
    assert home.store().task_reschedules.for_try(wait.key, 1), "the sensor never gave its slot back"


def test_a_failed_upstream_fails_the_sensor_at_once_naming_it(home: Home,
                                                              tmp_path: Path) -> None:
    _setup(home, tmp_path / "landing", 'mode="reschedule"')
    scheduler = home.start("scheduler")
    wait_for(lambda: home.parsed("ingest") and home.parsed("report"), 60,
             "the DAGs to be parsed", scheduler.tail)

    report = _trigger_at(home, "report", DAY)
    ingest = _trigger_at(home, "ingest", DAY, conf={"fail": True})

    wait = wait_for(lambda: _finished(home, "report", report, "wait_for_ingest"), 90,
                    "the external task sensor to end", lambda: _describe(home, scheduler))
    assert (wait.state, wait.try_number) == (TaskState.FAILED, 1)
    assert "upstream failed" in wait.error and "task 'complete'" in wait.error
    assert ingest in wait.error and "DAG 'ingest'" in wait.error
    # the file sensor goes on waiting: the run ends only with it, failed
    (tmp_path / "landing" / "sales_2026-01-05.csv").write_text("id\n")
    run = wait_for(lambda: home.finished_run("report", report), 90,
                   "the report run to finish", lambda: _describe(home, scheduler))
    assert run.state is DagRunState.FAILED
    assert home.instance("report", report, "wait_for_file").state is TaskState.SUCCESS
    assert home.instance("report", report, "publish").state is TaskState.UPSTREAM_FAILED


def test_deferred_sensors_wait_in_the_triggerer(home: Home, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    _setup(home, landing, "deferrable=True")
    scheduler = home.start("scheduler")
    triggerer = home.start("triggerer")
    wait_for(lambda: home.parsed("ingest") and home.parsed("report"), 60,
             "the DAGs to be parsed", scheduler.tail)

    report = _trigger_at(home, "report", DAY)
    wait_for(lambda: all(home.instance("report", report, t).state is TaskState.DEFERRED
                         for t in ("wait_for_ingest", "wait_for_file")), 60,
             "both sensors to defer", lambda: _describe(home, scheduler, triggerer))
    (landing / "sales_2026-01-05.csv").write_text("id,amount\n1,10\n")
    _trigger_at(home, "ingest", DAY)

    run = wait_for(lambda: home.finished_run("report", report), 90,
                   "the report run to finish", lambda: _describe(home, scheduler, triggerer))
    assert run.state is DagRunState.SUCCESS, _describe(home, scheduler, triggerer)
    for task_id in ("wait_for_ingest", "wait_for_file"):
        ti = home.instance("report", report, task_id)
        assert (ti.state, ti.try_number) == (TaskState.SUCCESS, 1)
