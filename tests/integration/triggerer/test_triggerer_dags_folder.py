"""A trigger kept in a module of the DAGs folder runs in the triggerer process.

DAG files import helper packages next to them (``dags/common/triggers.py``); a trigger
defined there is stored by its import path (``common.triggers.GateFileTrigger``), which
the triggerer, another process, must import as well: like Airflow, it has the DAGs folder
on its ``sys.path``. Nothing else (no PYTHONPATH) points at the folder here.
"""

from __future__ import annotations

import os
import socket

from engine_helpers import Home, wait_for

from millstream.model.states import DagRunState, TaskState

TRIGGERS_MODULE = '''
import asyncio
import os

from millstream.triggerer.base import BaseTrigger, TriggerEvent


class GateFileTrigger(BaseTrigger):
    """Fires once the file exists."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def serialize(self):
        return ("common.triggers.GateFileTrigger", {"path": self.path})

    async def run(self):
        while not os.path.exists(self.path):
            await asyncio.sleep(0.05)
        yield TriggerEvent({"path": self.path, "pid": os.getpid()})
'''

GATED_DAG = """
    from millstream import DAG
    from millstream.sensors import BaseSensorOperator

    from common.triggers import GateFileTrigger


    class GateSensor(BaseSensorOperator):
        def __init__(self, *, path, **kwargs):
            super().__init__(**kwargs)
            self.path = path

        def make_trigger(self, context):
            return GateFileTrigger(self.path)

        def execute_complete(self, context, event=None):
            return event


    with DAG("gated_by_helper", schedule=None) as dag:
        GateSensor(task_id="gated", path={gate!r}, deferrable=True)
"""


def test_the_triggerer_imports_a_trigger_from_a_module_in_the_dags_folder(home: Home) -> None:
    assert "PYTHONPATH" not in home.process_env() or str(home.dags) not in (
        home.process_env()["PYTHONPATH"])
    common = home.dags / "common"
    common.mkdir(parents=True)
    (common / "__init__.py").write_text("", encoding="utf-8")
    (common / "triggers.py").write_text(TRIGGERS_MODULE, encoding="utf-8")
    gate = home.scratch / "gate"
    home.write_dag("gated_by_helper.py", GATED_DAG.format(gate=str(gate)))
    home.set(scheduler__heartbeat_interval_s=1, scheduler__parse_interval_s=1)
    scheduler = home.start("scheduler")
    triggerer = home.start("triggerer")
    wait_for(lambda: home.parsed("gated_by_helper"), 30, "the scheduler to parse the DAG",
             scheduler.tail)
    run_id = home.trigger("gated_by_helper")

    def detail() -> str:
        return home.describe("gated_by_helper") + "\n" + triggerer.tail()

    wait_for(lambda: home.instance("gated_by_helper", run_id, "gated").state
             is TaskState.DEFERRED
             and home.store().triggers.owners() == [f"{socket.gethostname()}:{triggerer.pid}"],
             30, "the sensor to defer and the triggerer to take its trigger", detail)
    gate.touch()
    run = wait_for(lambda: home.finished_run("gated_by_helper", run_id), 60,
                   "the run to finish", detail)
    gated = home.instance("gated_by_helper", run_id, "gated")
    assert (run.state, gated.state, gated.try_number) == (
        DagRunState.SUCCESS, TaskState.SUCCESS, 1), gated.error
    pushed = home.store().xcoms.get_xcom("gated_by_helper", run_id, "gated", -1, "return_value")
    # The event came from the triggerer process, which built the trigger from the folder.
    assert pushed is not None and f'"pid":{triggerer.pid}' in pushed.replace(" ", "")
    assert os.fspath(gate) in pushed
