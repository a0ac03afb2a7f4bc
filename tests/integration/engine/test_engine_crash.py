"""Crash safety: kill -9 the scheduler or a task's process, and runs still finish correctly.

The database is the truth: a restarted scheduler adopts the outcome of a try that ended
while no scheduler listened, never runs a finished task again, and retries or fails a
try whose process vanished once its heartbeat is older than the zombie timeout. A try
killed while its scheduler runs is reported by the executor when its process ends.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

from engine_helpers import Home, Proc, alive, in_session, kill_group, run_job, wait_for

from millstream.cli.engine import scheduler_job
from millstream.model.states import FINISHED_TASK_STATES, DagRunState, TaskState
from millstream.store.records import TaskInstanceKey

FAST_LIVENESS = {"scheduler__zombie_timeout_s": 3, "scheduler__heartbeat_interval_s": 1}

LEDGER_DAG = """
    import time

    from millstream import DAG, chain
    from millstream.operators.python import PythonOperator

    LEDGER = {ledger!r}

    def step(**context):
        ti = context["ti"]
        with open(LEDGER, "a") as ledger:
            ledger.write(f"{{ti.task_id}} {{ti.try_number}}\\n")
        time.sleep(1)

    with DAG("ledger_chain", schedule=None) as dag:
        chain(*[PythonOperator(task_id=f"step{{i}}", python_callable=step, retries=1)
                for i in range(1, 4)])
"""


def ledger_lines(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    return [(task_id, int(try_number)) for task_id, try_number in
            (line.split() for line in path.read_text().splitlines() if line.strip())]


def start_scheduler(home: Home) -> Proc:
    return home.start("scheduler")


def test_a_scheduler_killed_mid_run_is_replaced_and_nothing_finished_runs_again(
    home: Home,
) -> None:
    ledger = home.scratch / "ledger.txt"
    home.write_dag("ledger_chain.py", LEDGER_DAG.format(ledger=str(ledger)))
    home.set(**FAST_LIVENESS)
    first = start_scheduler(home)
    wait_for(lambda: home.parsed("ledger_chain"), 30, "the scheduler to parse the DAG",
             first.tail)
    run_id = home.trigger("ledger_chain")

    def one_done_one_running() -> bool:
        states = {label: ti.state for label, ti in home.instances("ledger_chain",
                                                                   run_id).items()}
        return states["step1"] is TaskState.SUCCESS and states["step2"] is TaskState.RUNNING

    wait_for(one_done_one_running, 30, "step1 to succeed and step2 to run",
             lambda: home.describe("ledger_chain") + "\n" + first.tail())
    succeeded_before = {label for label, ti in home.instances("ledger_chain", run_id).items()
                        if ti.state is TaskState.SUCCESS}
    os.kill(first.pid, signal.SIGKILL)
    first.popen.wait(timeout=10)

    second = start_scheduler(home)
    run = wait_for(lambda: home.finished_run("ledger_chain", run_id), 40,
                   "the run to finish under the new scheduler",
                   lambda: home.describe("ledger_chain") + "\n" + second.tail())
    assert run.state is DagRunState.SUCCESS, home.describe("ledger_chain")
    instances = home.instances("ledger_chain", run_id)
    assert {ti.state for ti in instances.values()} == {TaskState.SUCCESS}

    lines = ledger_lines(ledger)
    starts = Counter(task_id for task_id, _ in lines)
    assert set(starts) == {"step1", "step2", "step3"}, lines
    for task_id in succeeded_before:
        assert starts[task_id] == 1, f"{task_id} had succeeded but ran again: {lines}"
    for task_id, count in starts.items():
        if task_id == "step2":  # running at the kill: adopted (once) or retried (twice)
            assert count in (1, 2), lines
            assert instances[task_id].try_number == count
        else:
            assert count == 1, lines
            assert instances[task_id].try_number == 1
    # The dead scheduler's fork server let its try finish, then went away.
    wait_for(lambda: not in_session(first.pid), 15,
             "the killed scheduler's processes to exit",
             lambda: f"left: {sorted(in_session(first.pid))}")


VICTIM_DAG = """
    import time

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    def sleepy(**context):
        ti = context["ti"]
        print(f"{{ti.task_id}} try {{ti.try_number}} starts")
        if ti.try_number == 1:
            time.sleep(120)
        return ti.try_number

    with DAG("{dag_id}", schedule=None) as dag:
        PythonOperator(task_id="retried", python_callable=sleepy, retries=1,
                       retry_delay=0)
        PythonOperator(task_id="doomed", python_callable=sleepy, retries=0)
"""


def test_a_task_killed_from_outside_is_reported_by_the_executor_and_retried(
    home: Home,
) -> None:
    home.write_dag("victims.py", VICTIM_DAG.format(dag_id="victims"))
    # Zombie detection is far away: only the executor seeing the exit can end the tries.
    home.set(scheduler__zombie_timeout_s=600)
    killed: dict[str, int] = {}

    with scheduler_job(home.settings()) as job:
        job.step(job.clock())
        run_id = home.trigger("victims")

        def kill_running_then_wait() -> bool:
            instances = home.instances("victims", run_id)
            for label in ("retried", "doomed"):
                ti = instances[label]
                if label not in killed and ti.state is TaskState.RUNNING and ti.pid:
                    os.kill(ti.pid, signal.SIGKILL)
                    killed[label] = ti.pid
            return len(killed) == 2 and all(
                ti.state in FINISHED_TASK_STATES for ti in instances.values()
            )

        run_job(job, kill_running_then_wait, 30, "both killed tries to be reported",
                lambda: home.describe("victims"))
        run = wait_for(lambda: home.finished_run("victims", run_id), 5, "the run to end")
    assert run.state is DagRunState.FAILED  # doomed had no retries left

    store = home.store()
    retried = store.task_instances.tries(TaskInstanceKey("victims", run_id, "retried"))
    assert [(t.try_number, t.state) for t in retried] == [
        (1, TaskState.UP_FOR_RETRY), (2, TaskState.SUCCESS)
    ]
    assert "SIGKILL" in (retried[0].error or ""), retried[0].error
    doomed = store.task_instances.tries(TaskInstanceKey("victims", run_id, "doomed"))
    assert [(t.try_number, t.state) for t in doomed] == [(1, TaskState.FAILED)]
    assert "SIGKILL" in (doomed[0].error or ""), doomed[0].error
    assert not any(alive(pid) for pid in killed.values())


def test_a_try_that_vanished_with_its_scheduler_is_found_by_its_missing_heartbeat(
    sqlite_home: Home,
) -> None:
    home = sqlite_home  # about processes and time; the SQL paths are covered above on both
    home.write_dag("vanishing.py", VICTIM_DAG.format(dag_id="vanishing"))
    home.set(**FAST_LIVENESS)
    first = start_scheduler(home)
    wait_for(lambda: home.parsed("vanishing"), 30, "the scheduler to parse the DAG",
             first.tail)
    run_id = home.trigger("vanishing")

    def both_running() -> dict[str, int] | None:
        instances = home.instances("vanishing", run_id)
        pids = {label: instances[label].pid for label in ("retried", "doomed")}
        if all(instances[label].state is TaskState.RUNNING for label in pids) and all(
            pid for pid in pids.values()
        ):
            return {label: pid for label, pid in pids.items() if pid}
        return None

    pids = wait_for(both_running, 30, "both tries to run",
                    lambda: home.describe("vanishing") + "\n" + first.tail())
    # Everything at once: the scheduler, its fork server (no one is left to write a
    # result), and each try's own process group.
    kill_group(first.pid)
    for pid in pids.values():
        kill_group(pid)
    first.popen.wait(timeout=10)
    wait_for(lambda: not in_session(first.pid) and not any(alive(p) for p in pids.values()),
             10, "the killed processes to be gone")
    for label in pids:
        assert home.instance("vanishing", run_id, label).state is TaskState.RUNNING

    second = start_scheduler(home)
    # Liveness only: the zombie timeout (3 s) plus the new scheduler's start-up.
    run = wait_for(lambda: home.finished_run("vanishing", run_id), 30,
                   "the vanished tries to be found and the run to end",
                   lambda: home.describe("vanishing") + "\n" + second.tail())
    assert run.state is DagRunState.FAILED  # doomed had no retries left
    store = home.store()
    retried = store.task_instances.tries(TaskInstanceKey("vanishing", run_id, "retried"))
    assert [(t.try_number, t.state) for t in retried] == [
        (1, TaskState.UP_FOR_RETRY), (2, TaskState.SUCCESS)
    ]
    assert "vanished" in (retried[0].error or ""), retried[0].error
    doomed = store.task_instances.tries(TaskInstanceKey("vanishing", run_id, "doomed"))
    assert [(t.try_number, t.state) for t in doomed] == [(1, TaskState.FAILED)]
    assert "vanished" in (doomed[0].error or ""), doomed[0].error


HELD_START_DAG = """
    import multiprocessing
    import os
    import time

    from millstream import DAG
    from millstream.operators.python import PythonOperator

    LEDGER = {ledger!r}

    # While HOLD exists and GO does not, the executor's fork server (a parsing worker is
    # a multiprocessing child and is never held) cannot finish importing this file: it
    # holds the workload it was handed without starting the try.
    if os.path.exists({hold!r}) and multiprocessing.parent_process() is None:
        deadline = time.monotonic() + 20
        while not os.path.exists({go!r}) and time.monotonic() < deadline:
            time.sleep(0.05)

    def step(**context):
        ti = context["ti"]
        with open(LEDGER, "a") as ledger:
            ledger.write(f"{{ti.task_id}} {{ti.try_number}}\\n")
        time.sleep(1)

    with DAG("held_start", schedule=None) as dag:
        PythonOperator(task_id="only", python_callable=step, retries=1)
"""


def test_a_try_handed_out_just_before_its_scheduler_died_runs_only_once(
    sqlite_home: Home,
) -> None:
    """The dead scheduler's fork server still starts the try it was handed; the new
    scheduler must not hand the same try out again meanwhile."""
    home = sqlite_home
    ledger, hold, go = (home.scratch / name for name in ("ledger.txt", "hold", "go"))
    home.write_dag("held_start.py", HELD_START_DAG.format(ledger=str(ledger), hold=str(hold),
                                                          go=str(go)))
    home.set(scheduler__zombie_timeout_s=6, scheduler__heartbeat_interval_s=1)
    first = start_scheduler(home)
    wait_for(lambda: home.parsed("held_start"), 30, "the scheduler to parse the DAG",
             first.tail)
    hold.touch()
    run_id = home.trigger("held_start")
    wait_for(lambda: home.instance("held_start", run_id, "only").state is TaskState.QUEUED,
             30, "the try to be queued", lambda: home.describe("held_start") + first.tail())
    os.kill(first.pid, signal.SIGKILL)  # its fork server is held importing the DAG file
    first.popen.wait(timeout=10)

    second = start_scheduler(home)
    wait_for(lambda: "parsed 1 changed file" in second.output(), 30,
             "the new scheduler's first round", second.tail)
    time.sleep(1)  # a liveness check or two of the new scheduler, while the try is held
    go.touch()
    run = wait_for(lambda: home.finished_run("held_start", run_id), 40,
                   "the run to finish under the new scheduler",
                   lambda: home.describe("held_start") + "\n" + second.tail())
    wait_for(lambda: not in_session(first.pid), 15, "the killed scheduler's processes to exit")
    assert ledger_lines(ledger) == [("only", 1)], second.tail()
    assert run.state is DagRunState.SUCCESS
    assert home.instance("held_start", run_id, "only").try_number == 1
