"""The local executor's reliability suite, on Celery workers: a scheduler killed mid-run,
a try's process killed from outside, and an execution_timeout killing a try's process tree."""

from __future__ import annotations

import os
import signal
from collections import Counter

from millstream.model.states import FINISHED_TASK_STATES, DagRunState, TaskState
from tests.integration.celery.celery_helpers import CeleryHome
from tests.integration.celery.test_celery_faults import (
    ledger_lines,
    started,
    succeeded,
    write_ledger_dag,
)
from tests.integration.engine.engine_helpers import alive, wait_for


def test_a_scheduler_killed_mid_run_is_replaced_and_every_step_runs_once(
    redis_home: CeleryHome,
) -> None:
    home = redis_home
    ledger = write_ledger_dag(home, "celery_chain", 3, 2.0)
    home.start_worker("w1")
    first = home.start("scheduler")
    run_id = started(home, "celery_chain")

    def one_done_one_running() -> bool:
        states = {label: ti.state for label, ti in home.instances("celery_chain",
                                                                   run_id).items()}
        return states["step0"] is TaskState.SUCCESS and states["step1"] is TaskState.RUNNING

    wait_for(one_done_one_running, 60, "step0 to succeed and step1 to run",
             lambda: home.describe("celery_chain") + "\n" + home.tails())
    os.kill(first.pid, signal.SIGKILL)
    first.popen.wait(timeout=10)
    home.start("scheduler")
    succeeded(home, "celery_chain", run_id)
    # the worker kept running step1 and recorded it: nothing ran twice
    assert Counter(task for _, task, _ in ledger_lines(ledger)) == Counter(
        {"step0": 1, "step1": 1, "step2": 1})
    assert {ti.try_number for ti in home.instances("celery_chain", run_id).values()} == {1}


VICTIMS = """
    import subprocess
    import time
    from datetime import datetime, timedelta

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    CHILD = {child!r}

    def sleepy(**context):
        ti = context["ti"]
        print(f"{{ti.task_id}} try {{ti.try_number}} starts", flush=True)
        if ti.try_number == 1:
            time.sleep(120)
        return ti.try_number

    def overrun(**context):
        child = subprocess.Popen(["sleep", "300"])
        with open(CHILD, "w") as f:
            f.write(str(child.pid))
        time.sleep(300)

    with DAG("celery_victims", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        PythonOperator(task_id="retried", python_callable=sleepy, retries=1,
                       retry_delay=timedelta(0))
        PythonOperator(task_id="doomed", python_callable=sleepy, retries=0)
        PythonOperator(task_id="overrun", python_callable=overrun, retries=0,
                       execution_timeout=timedelta(seconds=2))
"""


def test_tries_killed_from_outside_or_by_their_timeout_end_as_on_the_local_executor(
    redis_home: CeleryHome,
) -> None:
    home = redis_home
    child_file = home.scratch / "child.pid"
    home.write_dag("celery_victims.py", VICTIMS.format(child=str(child_file)))
    home.set(scheduler__zombie_timeout_s=600)  # only the worker seeing the exit ends them
    home.start_worker("w1", "--concurrency", "3")
    home.start("scheduler")
    run_id = started(home, "celery_victims")
    killed: dict[str, int] = {}

    def kill_running_then_wait() -> bool:
        instances = home.instances("celery_victims", run_id)
        for label in ("retried", "doomed"):
            ti = instances[label]
            if label not in killed and ti.state is TaskState.RUNNING and ti.pid \
                    and ti.try_number == 1:
                os.kill(ti.pid, signal.SIGKILL)
                killed[label] = ti.pid
        return len(killed) == 2 and all(ti.state in FINISHED_TASK_STATES
                                        for ti in instances.values())

    wait_for(kill_running_then_wait, 90, "the killed and overrunning tries to end",
             lambda: home.describe("celery_victims") + "\n" + home.tails())
    run = wait_for(lambda: home.finished_run("celery_victims", run_id), 30, "the run to end")
    assert run.state is DagRunState.FAILED  # doomed had no retries left

    store = home.store()
    instances = home.instances("celery_victims", run_id)
    retried = store.task_instances.tries(instances["retried"].key)
    assert [(t.try_number, t.state) for t in retried] == [
        (1, TaskState.UP_FOR_RETRY), (2, TaskState.SUCCESS)]
    assert "SIGKILL" in (retried[0].error or ""), retried[0].error
    doomed = store.task_instances.tries(instances["doomed"].key)
    assert [(t.try_number, t.state) for t in doomed] == [(1, TaskState.FAILED)]
    assert "SIGKILL" in (doomed[0].error or ""), doomed[0].error
    overrun = instances["overrun"]
    assert overrun.state is TaskState.FAILED
    assert "execution_timeout" in (overrun.error or "") or "timed out" in (overrun.error or ""), \
        overrun.error
    child = int(child_file.read_text())
    wait_for(lambda: not alive(child), 30, "the overrunning try's child to be killed too")
    assert not any(alive(pid) for pid in killed.values())
    assert {ti.hostname for ti in instances.values()} == {"w1@127.0.0.1"}


def test_a_worker_told_to_stop_finishes_its_running_try_first(redis_home: CeleryHome) -> None:
    home = redis_home
    ledger = write_ledger_dag(home, "celery_stop", 1, 3.0)
    worker = home.start_worker("w1")
    home.start("scheduler")
    run_id = started(home, "celery_stop")
    wait_for(lambda: ledger_lines(ledger), 60, "the try to start", home.tails)
    worker.popen.send_signal(signal.SIGTERM)
    assert worker.popen.wait(timeout=60) == 0, worker.tail()
    succeeded(home, "celery_stop", run_id, timeout=30)  # recorded before the worker left
    ti = home.instance("celery_stop", run_id, "step0")
    assert (ti.state, ti.try_number, ti.hostname) == (TaskState.SUCCESS, 1, "w1@127.0.0.1")
