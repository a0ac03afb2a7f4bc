"""The scheduler process's life: a clear error when it cannot start, and a clean stop.

SIGTERM stops the scheduler once the tries it runs have ended, and their outcomes are in
the store when it has gone: the next scheduler finds them recorded, not lost.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from engine_helpers import Home, in_session, wait_for

from millstream.model.states import DagRunState, TaskState

NAP_DAG = """
    import time

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def nap():
        print("napping")
        time.sleep(1)
        print("rested")
        return "rested"

    with DAG("napping", schedule=None) as dag:
        PythonOperator(task_id="nap", python_callable=nap)
"""


def test_a_stopped_scheduler_leaves_the_outcome_of_its_last_try_in_the_store(
    sqlite_home: Home,
) -> None:
    home = sqlite_home
    home.write_dag("napping.py", NAP_DAG)
    first = home.start("scheduler")
    wait_for(lambda: home.parsed("napping"), 30, "the scheduler to parse the DAG", first.tail)
    run_id = home.trigger("napping")
    wait_for(lambda: home.instance("napping", run_id, "nap").state is TaskState.RUNNING, 30,
             "the try to run", lambda: home.describe("napping") + "\n" + first.tail())
    first.popen.send_signal(signal.SIGTERM)
    assert first.popen.wait(timeout=30) == 0, first.tail()
    wait_for(lambda: not in_session(first.pid), 10, "the scheduler's processes to exit")

    nap = home.instance("napping", run_id, "nap")
    assert (nap.state, nap.try_number) == (TaskState.SUCCESS, 1), first.tail()
    assert home.store().xcoms.get_xcom("napping", run_id, "nap", -1, "return_value") == \
        '"rested"'

    second = home.start("scheduler")
    run = wait_for(lambda: home.finished_run("napping", run_id), 30,
                   "the next scheduler to finish the run", second.tail)
    assert run.state is DagRunState.SUCCESS
    assert home.instance("napping", run_id, "nap").try_number == 1


def test_a_database_that_cannot_be_reached_is_one_line_not_a_traceback(
    blank_home: Home,
) -> None:
    env = blank_home.process_env()
    env["MILLSTREAM__DATABASE__URL"] = "postgresql://postgres@127.0.0.1:1/unreachable"
    for command in (["scheduler"], ["standalone", "--no-examples"]):
        result = subprocess.run(
            [sys.executable, "-m", "millstream.cli.main", *command], env=env,
            capture_output=True, text=True, timeout=60, cwd=blank_home.scratch,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert "127.0.0.1" in lines[0] and "port 1" in lines[0]
        assert "Traceback" not in result.stdout + result.stderr
        assert "scheduler running" not in result.stdout
