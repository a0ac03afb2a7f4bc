"""kill -9 the scheduler between queueing a continuing try's next step and its start.

A rescheduled sensor's next poke and a deferred task's resumption keep the key and try
number of the step before them. Here the scheduler's fork server is stopped (SIGSTOP)
once the first step has ended, the scheduler queues the next step and is killed, and
the fork server, let go, refuses the step: its scheduler is gone. (A try's parent is
the zygote of its DAG file, whose parent is the fork server: the step reaches the
zygote only through the fork server, so holding the fork server holds the step. Both
exit once the scheduler is gone and nothing runs.) The next scheduler
finds the first step's result file under the same name and must not take it for the
step that never ran: the step is queued again and runs in the same try, and nothing
that did not happen (a poke, a second deferral) is recorded.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine_helpers import Home, Proc, alive, proc_stat, wait_for

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import TaskInstanceRecord

FAST = {"scheduler__zombie_timeout_s": 3, "scheduler__heartbeat_interval_s": 1,
        "scheduler__parse_interval_s": 1}

# Each poke writes its zygote's pid (its parent) to the ledger; the second one to run
# finds what it waits for.
POKING_DAG = """
    import os

    from millstream import DAG
    from millstream.sensors.python import PythonSensor

    LEDGER = {ledger!r}

    def poke():
        with open(LEDGER, "a") as ledger:
            ledger.write(f"poke {{os.getppid()}}\\n")
        with open(LEDGER) as ledger:
            return len(ledger.readlines()) >= 2

    with DAG("poking", schedule=None) as dag:
        PythonSensor(task_id="wait", python_callable=poke, mode="reschedule",
                     poke_interval=4, timeout=300)
"""

TRIGGERS_MODULE = '''
import asyncio
import os

from millstream.triggerer.base import BaseTrigger, TriggerEvent


class LedgerGateTrigger(BaseTrigger):
    """Fires once the gate file exists, noting each firing in the ledger."""

    def __init__(self, gate, ledger):
        super().__init__()
        self.gate = gate
        self.ledger = ledger

    def serialize(self):
        return ("common.triggers.LedgerGateTrigger", {"gate": self.gate, "ledger": self.ledger})

    async def run(self):
        while not os.path.exists(self.gate):
            await asyncio.sleep(0.05)
        with open(self.ledger, "a") as ledger:
            ledger.write("fired\\n")
        yield TriggerEvent({"gate": self.gate})
'''

DEFERRING_DAG = """
    import os

    from millstream import DAG
    from millstream.authoring.task import BaseOperator

    from common.triggers import LedgerGateTrigger

    LEDGER = {ledger!r}


    class GateWaiter(BaseOperator):
        def execute(self, context):
            with open(LEDGER, "a") as ledger:
                ledger.write(f"deferred {{os.getppid()}}\\n")
            self.defer(trigger=LedgerGateTrigger({gate!r}, LEDGER),
                       method_name="execute_complete")

        def execute_complete(self, context, event=None):
            with open(LEDGER, "a") as ledger:
                ledger.write("resumed\\n")
            return event


    with DAG("deferring", schedule=None) as dag:
        GateWaiter(task_id="wait")
"""


def ledger(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process is stopped (SIGSTOP) within the block, and continues after it."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def parent_of(pid: int) -> int:
    stat = proc_stat(pid)
    assert stat is not None, f"process {pid} is gone"
    return stat[1]


def kill_while_next_step_is_queued(home: Home, scheduler: Proc, zygote: int,
                                   queued: Callable[[], bool], detail: Callable[[], str]
                                   ) -> None:
    """Hold the fork server, wait for the next step to be queued, kill -9 the scheduler."""
    fork_server = parent_of(zygote)
    assert parent_of(fork_server) == scheduler.pid, "the try's parent is not a zygote"
    with stopped(fork_server):
        wait_for(queued, 30, "the next step to be queued", detail)
        os.kill(scheduler.pid, signal.SIGKILL)
        scheduler.popen.wait(timeout=10)
    # Let go, the fork server refuses the step (its scheduler is gone), its zygote
    # exits, and so does the fork server: no process is left behind.
    wait_for(lambda: not alive(fork_server) and not alive(zygote), 30,
             "the orphaned fork server and its zygote to exit", detail)


def test_a_next_poke_queued_when_the_scheduler_died_is_poked_once_in_the_same_try(
    home: Home,
) -> None:
    pokes = home.scratch / "pokes.txt"
    home.write_dag("poking.py", POKING_DAG.format(ledger=str(pokes)))
    home.set(**FAST)
    first = home.start("scheduler")
    wait_for(lambda: home.parsed("poking"), 30, "the scheduler to parse the DAG", first.tail)
    run_id = home.trigger("poking")

    def sensor() -> TaskInstanceRecord:
        return home.instance("poking", run_id, "wait")

    def detail() -> str:
        return f"{home.describe('poking')}\npokes: {ledger(pokes)}\n{first.tail()}"

    wait_for(lambda: sensor().state is TaskState.UP_FOR_RESCHEDULE, 30,
             "the first poke to find nothing", detail)
    ((_, zygote),) = (line.split() for line in ledger(pokes))
    kill_while_next_step_is_queued(home, first, int(zygote),
                                   lambda: sensor().state is TaskState.QUEUED, detail)
    assert len(ledger(pokes)) == 1, "the second poke ran"

    second = home.start("scheduler")
    run = wait_for(lambda: home.finished_run("poking", run_id), 60, "the run to finish",
                   lambda: f"{home.describe('poking')}\npokes: {ledger(pokes)}\n"
                           f"{second.tail()}")
    wait = sensor()
    assert (run.state, wait.state, wait.try_number) == (
        DagRunState.SUCCESS, TaskState.SUCCESS, 1), wait.error
    assert len(ledger(pokes)) == 2  # the first poke, and the one that found it
    # Only the first poke gave its slot back: the poke that never ran left no trace.
    assert len(home.store().task_reschedules.for_try(wait.key, 1)) == 1


def test_a_resumption_queued_when_the_scheduler_died_keeps_its_triggers_event(
    home: Home,
) -> None:
    notes, gate = home.scratch / "ledger.txt", home.scratch / "gate"
    common = home.dags / "common"
    common.mkdir(parents=True)
    (common / "__init__.py").write_text("", encoding="utf-8")
    (common / "triggers.py").write_text(TRIGGERS_MODULE, encoding="utf-8")
    home.write_dag("deferring.py", DEFERRING_DAG.format(ledger=str(notes), gate=str(gate)))
    home.set(**FAST)
    first = home.start("scheduler")
    triggerer = home.start("triggerer")
    wait_for(lambda: home.parsed("deferring"), 30, "the scheduler to parse the DAG", first.tail)
    run_id = home.trigger("deferring")

    def waiter() -> TaskInstanceRecord:
        return home.instance("deferring", run_id, "wait")

    def detail() -> str:
        return (f"{home.describe('deferring')}\nledger: {ledger(notes)}\n{first.tail()}\n"
                f"{triggerer.tail()}")

    wait_for(lambda: waiter().state is TaskState.DEFERRED, 30, "the task to defer", detail)
    ((_, zygote),) = (line.split() for line in ledger(notes))

    def resumption_queued() -> bool:
        ti = waiter()
        return ti.state is TaskState.QUEUED and ti.next_method == "execute_complete"

    gate.touch()  # the trigger fires while the fork server is held: the resumption waits
    kill_while_next_step_is_queued(home, first, int(zygote), resumption_queued, detail)
    assert ledger(notes)[1:] == ["fired"]

    second = home.start("scheduler")
    run = wait_for(lambda: home.finished_run("deferring", run_id), 60, "the run to finish",
                   lambda: f"{home.describe('deferring')}\nledger: {ledger(notes)}\n"
                           f"{second.tail()}\n{triggerer.tail()}")
    wait = waiter()
    assert (run.state, wait.state, wait.try_number) == (
        DagRunState.SUCCESS, TaskState.SUCCESS, 1), wait.error
    # Deferred once, fired once, resumed once with that event.
    assert [line.split()[0] for line in ledger(notes)] == ["deferred", "fired", "resumed"]
    store = home.store()
    pushed = store.xcoms.get_xcom("deferring", run_id, "wait", -1, "return_value")
    assert pushed is not None and json.loads(pushed) == {"gate": str(gate)}
    assert store.triggers.list() == []
