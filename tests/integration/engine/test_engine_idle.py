"""A scheduler with nothing that may run keeps no fork server; the first DAG that may starts one."""

from __future__ import annotations

from datetime import UTC, datetime

from engine_helpers import Home, run_job

from millstream.cli.engine import scheduler_job
from millstream.executors.local import LocalExecutor
from millstream.model.states import DagRunState
from millstream.processes import process_exists

QUIET_DAG = """
    from datetime import datetime

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def nothing():
        return None

    with DAG("quiet", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        PythonOperator(task_id="only", python_callable=nothing)
"""


def test_the_fork_server_starts_with_the_first_dag_that_may_run(sqlite_home: Home) -> None:
    sqlite_home.set(core__dags_are_paused_at_creation="true")
    sqlite_home.write_dag("quiet.py", QUIET_DAG)
    with scheduler_job(sqlite_home.settings()) as job:
        executor = job.executor
        assert isinstance(executor, LocalExecutor)
        run_job(job, lambda: sqlite_home.parsed("quiet"), 30, "the DAG to be parsed")
        for _ in range(3):  # parsed, stored paused: nothing may run, no server
            job.step(datetime.now(UTC))
        assert executor.fork_server_pid is None
        with sqlite_home.store().transaction():
            sqlite_home.store().dags.set_paused("quiet", False)
        run_job(job, lambda: executor.fork_server_pid is not None, 30,
                "the fork server to start once the DAG may run")
        pid = executor.fork_server_pid
        assert pid is not None and process_exists(pid)
        run_id = sqlite_home.trigger("quiet")
        run_job(job, lambda: sqlite_home.finished_run("quiet", run_id), 30, "the run to end",
                lambda: sqlite_home.describe("quiet"))
        assert executor.fork_server_pid == pid  # the same server ran the try
    finished = sqlite_home.run("quiet", run_id)
    assert finished is not None and finished.state is DagRunState.SUCCESS
