"""Tasks cleared from the CLI while a scheduler runs are run again, in a running run too."""

from __future__ import annotations

from engine_helpers import Home, run_job

from millstream.cli.engine import scheduler_job
from millstream.model.states import DagRunState, TaskState

FLAKY_DAG = """
    import os

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    MARKER = {marker!r}

    def needs_marker():
        if not os.path.exists(MARKER):
            raise RuntimeError("no marker yet")

    with DAG("clear_me", schedule=None) as dag:
        PythonOperator(task_id="gate", python_callable=needs_marker) >> PythonOperator(
            task_id="after", python_callable=lambda: None)
"""


def test_a_failed_run_cleared_from_the_cli_runs_again_and_succeeds(home: Home) -> None:
    marker = home.scratch / "marker"
    home.write_dag("clear_me.py", FLAKY_DAG.format(marker=str(marker)))
    with scheduler_job(home.settings()) as job:
        run_job(job, lambda: home.parsed("clear_me"), 30, "the DAG to be parsed")
        run_id = home.trigger("clear_me")
        run_job(job, lambda: home.finished_run("clear_me", run_id), 30, "the first attempt",
                lambda: home.describe("clear_me"))
        assert home.run("clear_me", run_id).state is DagRunState.FAILED  # type: ignore[union-attr]

        marker.write_text("now it may pass")
        home.cli("tasks", "clear", "clear_me", "--run-id", run_id, "--only-failed",
                 "--downstream", "--yes")

        def succeeded() -> bool:
            run = home.run("clear_me", run_id)
            return run is not None and run.state is DagRunState.SUCCESS

        run_job(job, succeeded, 30, "the cleared run to succeed",
                lambda: home.describe("clear_me"))
    gate = home.instance("clear_me", run_id, "gate")
    assert gate.state is TaskState.SUCCESS and gate.try_number == 2
