"""Active/active schedulers on PostgreSQL: when one dies with its tries (a lost machine),
the other adopts its work without a restart.

Every scheduler heartbeats its tries in the database; the survivor finds the dead one's
tries silent past the zombie timeout and retries them per their retries, while its own
tries finish undisturbed. Each try is in a ledger, so a try that ran twice would show.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest
from engine_helpers import Home, alive, descendants, kill_group, wait_for

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import TaskInstanceKey

TASKS = 4

FAILOVER_DAG = """
    import time
    from datetime import timedelta

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    LEDGER = {ledger!r}

    def work(**context):
        ti = context["ti"]
        with open(LEDGER, "a") as ledger:
            ledger.write(f"{{ti.task_id}} {{ti.try_number}}\\n")
        # The first tries wait for the test to kill a scheduler; retries are quick.
        time.sleep(600 if ti.try_number == 1 and ti.task_id in {doomed!r} else 1)

    with DAG("failover", schedule=None) as dag:
        [PythonOperator(task_id=f"work{{i}}", python_callable=work, retries=1,
                        retry_delay=timedelta(0))
         for i in range({tasks})]
"""


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_dead_schedulers_tries_are_adopted_by_the_other(home: Home) -> None:
    ledger = home.scratch / "ledger.txt"
    home.set(scheduler__zombie_timeout_s=3, scheduler__heartbeat_interval_s=1,
             scheduler__parallelism=2)
    first = home.start("scheduler")
    wait_for(lambda: "scheduler running" in first.output(), 60, "the first scheduler",
             first.tail)
    # The first scheduler takes the tries (the second is not there yet): they are its.
    doomed = [f"work{i}" for i in range(2)]
    home.write_dag("failover.py", FAILOVER_DAG.format(ledger=str(ledger), doomed=doomed,
                                                      tasks=TASKS))
    wait_for(lambda: home.parsed("failover"), 60, "the DAG to be parsed", first.tail)
    run_id = home.trigger("failover")

    def doomed_running() -> dict[str, int] | None:
        instances = home.instances("failover", run_id)
        pids = {label: instances[label].pid for label in doomed}
        running = all(instances[label].state is TaskState.RUNNING for label in doomed)
        if running and all(pids.values()):
            return {label: pid for label, pid in pids.items() if pid}
        return None

    pids = wait_for(doomed_running, 60, "the first scheduler's tries to run",
                    lambda: home.describe("failover") + "\n" + first.tail())
    second = home.start("scheduler")
    wait_for(lambda: "scheduler running" in second.output(), 60, "the second scheduler",
             second.tail)
    # The first scheduler's machine is lost: it, its fork server and its tries, at once.
    below = descendants(first.pid)
    assert set(pids.values()) <= below, "the tries are not the first scheduler's"
    kill_group(first.pid)
    for pid in below:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    first.popen.wait(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in below), 10, "the processes to be gone")

    # Liveness only: the zombie timeout (3 s) plus a few heartbeats of the survivor.
    run = wait_for(lambda: home.finished_run("failover", run_id), 60,
                   "the surviving scheduler to adopt the work and end the run",
                   lambda: home.describe("failover") + "\n" + second.tail())
    assert run.state is DagRunState.SUCCESS, home.describe("failover")
    assert second.popen.poll() is None
    store = home.store()
    for label in doomed:
        tries = store.task_instances.tries(TaskInstanceKey("failover", run_id, label, -1))
        assert [(t.try_number, t.state) for t in tries] == [
            (1, TaskState.UP_FOR_RETRY), (2, TaskState.SUCCESS)], label
        assert "vanished" in (tries[0].error or ""), tries[0].error
    lines = [tuple(line.split()) for line in ledger.read_text().splitlines() if line.strip()]
    counts = Counter(lines)
    assert set(counts.values()) == {1}, counts  # no try ran twice
    assert {task for task, _ in counts} == {f"work{i}" for i in range(TASKS)}
    assert {(task, n) for task, n in counts if n == "2"} == {(t, "2") for t in doomed}
