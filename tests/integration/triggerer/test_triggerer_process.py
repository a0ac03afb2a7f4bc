"""The triggerer as a process next to the scheduler, on SQLite and PostgreSQL.

Deferred tasks hold no worker: their triggers run in ``millstream triggerer``, which can be
killed -9 and restarted mid-wait without losing them; a trigger that raises fails only its
task; a deferral past its timeout is soft-failed. A reschedule-mode sensor gives its pool
slot back between pokes, so a pool of one slot still runs another task meanwhile.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from engine_helpers import Home, Proc, wait_for

from millstream.model.states import DagRunState, TaskState

FAST = {"scheduler__heartbeat_interval_s": 1, "scheduler__parse_interval_s": 1}

# Triggers live in an installed module, never in a DAG file: the triggerer imports them.
GATE_TRIGGERS = '''
import asyncio
import os

from millstream.triggerer.base import BaseTrigger, TriggerEvent


class GateFileTrigger(BaseTrigger):
    """Fires once the file exists."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def serialize(self):
        return ("gate_triggers.GateFileTrigger", {"path": self.path})

    async def run(self):
        while not os.path.exists(self.path):
            await asyncio.sleep(0.05)
        yield TriggerEvent({"path": self.path, "pid": os.getpid()})


class BrokenTrigger(BaseTrigger):
    def serialize(self):
        return ("gate_triggers.BrokenTrigger", {})

    async def run(self):
        await asyncio.sleep(0)
        raise ConnectionError("the upstream API refused the connection")
        yield
'''

GATE_DAG = """
    from millstream import DAG
    from millstream.operators.python import PythonOperator
    from millstream.sensors import BaseSensorOperator

    from gate_triggers import BrokenTrigger, GateFileTrigger


    class GateSensor(BaseSensorOperator):
        def __init__(self, *, path, broken=False, **kwargs):
            super().__init__(**kwargs)
            self.path = path
            self.broken = broken

        def make_trigger(self, context):
            return BrokenTrigger() if self.broken else GateFileTrigger(self.path)

        def execute_complete(self, context, event=None):
            return event


    with DAG("gated", schedule=None) as dag:
        gated = GateSensor(task_id="gated", path={gate!r}, deferrable=True)
        after = PythonOperator(task_id="after", python_callable=lambda: "after ran")
        gated >> after
        GateSensor(task_id="broken", path="", broken=True, deferrable=True)
        GateSensor(task_id="late", path={never!r}, deferrable=True, timeout=2, soft_fail=True)
"""


@pytest.fixture
def plugins(home: Home, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on every process's PYTHONPATH holding the triggers' module."""
    folder = home.path / "plugins"
    folder.mkdir()
    (folder / "gate_triggers.py").write_text(GATE_TRIGGERS, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", str(folder))
    return folder


def owners(home: Home) -> list[str]:
    return home.store().triggers.owners()


def test_deferred_tasks_survive_a_triggerer_killed_mid_wait_and_fail_alone(
    home: Home, plugins: Path,
) -> None:
    gate, never = home.scratch / "gate", home.scratch / "never"
    home.write_dag("gated.py", GATE_DAG.format(gate=str(gate), never=str(never)))
    home.set(**FAST)
    scheduler = home.start("scheduler")
    first = home.start("triggerer")
    wait_for(lambda: home.parsed("gated"), 30, "the scheduler to parse the DAG", scheduler.tail)
    run_id = home.trigger("gated")

    def detail(*procs: Proc) -> str:
        return home.describe("gated") + "\n" + "\n".join(p.tail() for p in procs)

    wait_for(lambda: home.instance("gated", run_id, "gated").state is TaskState.DEFERRED
             and owners(home) == [f"{socket.gethostname()}:{first.pid}"],
             30, "the sensor to defer and the triggerer to take its trigger",
             lambda: detail(scheduler, first))
    os.kill(first.pid, signal.SIGKILL)
    first.popen.wait(timeout=10)
    second = home.start("triggerer")
    wait_for(lambda: owners(home) == [f"{socket.gethostname()}:{second.pid}"], 30,
             "the restarted triggerer to take the trigger over", lambda: detail(second))
    gate.touch()  # only the second triggerer can see it: the first one is dead
    run = wait_for(lambda: home.finished_run("gated", run_id), 60, "the run to finish",
                   lambda: detail(scheduler, second))
    instances = home.instances("gated", run_id)
    states = {label: (ti.state, ti.try_number) for label, ti in instances.items()}
    assert states == {
        "gated": (TaskState.SUCCESS, 1),  # resumed in the same try
        "after": (TaskState.SUCCESS, 1),
        "broken": (TaskState.FAILED, 1),
        "late": (TaskState.SKIPPED, 1),
    }
    assert run.state is DagRunState.FAILED  # "broken" is a failed leaf
    broken = instances["broken"].error or ""
    assert "TaskDeferralError: trigger failed: ConnectionError: the upstream API refused" in broken
    assert "Traceback" in broken
    store = home.store()
    # A trigger whose task resumed or timed out goes at the triggerer's next round, which
    # may come after the run's last task has ended.
    wait_for(lambda: store.triggers.list() == [], 10, "the unused triggers to be removed",
             lambda: detail(second))
    pushed = store.xcoms.get_xcom("gated", run_id, "gated", -1, "return_value")
    assert pushed is not None and f'"pid":{second.pid}' in pushed.replace(" ", "")


RESCHEDULE_DAG = """
    import os

    from millstream import DAG
    from millstream.operators.python import PythonOperator
    from millstream.sensors.python import PythonSensor

    FLAG = {flag!r}

    def raise_flag():
        open(FLAG, "w").close()

    with DAG("one_slot", schedule=None) as dag:
        PythonSensor(task_id="wait_for_flag", python_callable=lambda: os.path.exists(FLAG),
                     mode="reschedule", poke_interval=1, timeout=120, pool="single",
                     priority_weight=100)
        PythonOperator(task_id="raise_flag", python_callable=raise_flag, pool="single")
"""


def test_a_reschedule_mode_sensor_holds_no_slot_while_it_waits(home: Home) -> None:
    # The flag is raised by a task in the same one-slot pool: a sensor that kept its slot
    # while waiting would starve that task, and time out.
    flag = home.scratch / "flag"
    home.write_dag("one_slot.py", RESCHEDULE_DAG.format(flag=str(flag)))
    home.set(**FAST)
    home.store().pools.set("single", 1)
    scheduler = home.start("scheduler")
    wait_for(lambda: home.parsed("one_slot"), 30, "the scheduler to parse the DAG",
             scheduler.tail)
    run_id = home.trigger("one_slot")
    run = wait_for(lambda: home.finished_run("one_slot", run_id), 90, "the run to finish",
                   lambda: home.describe("one_slot") + "\n" + scheduler.tail())
    assert run.state is DagRunState.SUCCESS
    sensor = home.instance("one_slot", run_id, "wait_for_flag")
    other = home.instance("one_slot", run_id, "raise_flag")
    assert (sensor.state, sensor.try_number) == (TaskState.SUCCESS, 1)
    reschedules = home.store().task_reschedules.for_try(sensor.key, 1)
    assert reschedules, "the sensor never gave its slot back"
    # The sensor poked first (higher priority) and was waiting when the other task ran.
    assert reschedules[0].start_date < other.start_date  # type: ignore[operator]
    assert other.end_date is not None and sensor.end_date is not None
    assert other.end_date <= sensor.end_date


STANDALONE_DAG = """
    from millstream import DAG
    from millstream.sensors.time import DateTimeSensor

    with DAG("wait_a_moment", schedule=None) as dag:
        DateTimeSensor(task_id="wait",
                       target_time="{{ (dag_run.queued_at + macros.timedelta(seconds=2))"
                                   ".isoformat() }}",
                       deferrable=True)
"""


def test_standalone_runs_the_triggerer_for_a_deferrable_sensor(blank_home: Home) -> None:
    home = blank_home
    home.settings_env.pop("MILLSTREAM__DATABASE__URL", None)
    home.database_url = f"sqlite:///{home.path / 'millstream.db'}"
    home.set(**FAST)
    home.write_dag("wait_a_moment.py", STANDALONE_DAG)
    proc = home.start("standalone", "--no-examples")
    wait_for(lambda: "scheduler running" in proc.output(), 30, "standalone to start",
             proc.tail)
    wait_for(lambda: home.parsed("wait_a_moment"), 30, "standalone to parse the DAG",
             proc.tail)
    run_id = home.trigger("wait_a_moment")
    wait_for(lambda: home.instance("wait_a_moment", run_id, "wait").state
             in (TaskState.DEFERRED, TaskState.SUCCESS), 30, "the sensor to defer",
             proc.tail)
    run = wait_for(lambda: home.finished_run("wait_a_moment", run_id), 60,
                   "the deferred sensor's run to finish",
                   lambda: home.describe("wait_a_moment") + "\n" + proc.tail())
    wait = home.instance("wait_a_moment", run_id, "wait")
    assert (run.state, wait.state, wait.try_number) == (
        DagRunState.SUCCESS, TaskState.SUCCESS, 1)
    assert run.queued_at is not None and wait.end_date is not None
    assert (wait.end_date - run.queued_at).total_seconds() >= 2
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(timeout=30) == 0
    assert home.store().triggers.owners() == []  # it gave its triggers back on the way out


def test_a_deferral_times_out_even_with_no_triggerer_running(
    home: Home, plugins: Path
) -> None:
    never = home.path / "never-written"
    home.write_dag("gated.py", GATE_DAG.format(gate=str(never), never=str(never)))
    home.set(**FAST)
    scheduler = home.start("scheduler")  # and no triggerer at all
    wait_for(lambda: home.parsed("gated"), 60, "the scheduler to parse the DAG", scheduler.tail)
    run_id = home.trigger("gated")

    def late_ended() -> bool:
        return home.instance("gated", run_id, "late").state is TaskState.SKIPPED

    wait_for(late_ended, 60, "the late sensor to time out while deferred",
             lambda: home.describe("gated") + "\n" + scheduler.tail())
    late = home.instance("gated", run_id, "late")
    assert late.try_number == 1  # its timeout ended the try it deferred in
    # The others wait on triggers nobody runs: still deferred, holding no slot.
    assert home.instance("gated", run_id, "gated").state is TaskState.DEFERRED
    assert home.instance("gated", run_id, "broken").state is TaskState.DEFERRED
