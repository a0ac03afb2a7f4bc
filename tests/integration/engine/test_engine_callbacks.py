"""DAG callbacks run in processes of their own: they import the DAG file, and one that
hangs is killed at its deadline without holding up the others."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from engine_helpers import wait_for

from millstream.parsing.loader import load_dag_file
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.callbacks import ProcessCallbackRunner
from millstream.scheduler.runs import plan_run

DAG_SOURCE = """
import time
from pathlib import Path

from millstream import DAG
from millstream.operators.empty import EmptyOperator

OUT = Path({out!r})

def on_failure(context):
    if context["dag_run"].conf.get("hang"):
        time.sleep(60)
    OUT.write_text(context["reason"] + " " + context["run_id"])

with DAG("callback_dag", schedule=None, on_failure_callback=on_failure) as dag:
    EmptyOperator(task_id="only")
"""


def _setup(tmp_path: Path) -> tuple[DagStructure, Path]:
    out = tmp_path / "callback.out"
    path = tmp_path / "callback_dag.py"
    path.write_text(DAG_SOURCE.format(out=str(out)))
    structure = DagStructure.from_dag(load_dag_file(path)["callback_dag"])
    return structure, out


def _run(structure: DagStructure, conf: dict[str, object]) -> object:
    now = datetime.now(UTC)
    run, _ = plan_run(structure, now, structure.timetable.data_interval_for(now), now,  # type: ignore[arg-type]
                      conf=conf)
    return run


def test_a_hanging_callback_is_killed_and_does_not_block_the_next(tmp_path: Path) -> None:
    structure, out = _setup(tmp_path)
    runner = ProcessCallbackRunner(timeout_s=2)
    try:
        runner.dag_run_finished(structure, _run(structure, {"hang": True}), False, "stuck")
        runner.dag_run_finished(structure, _run(structure, {}), False, "task_failure")
        wait_for(lambda: out.exists(), 30, "the second callback to write its file")
        assert out.read_text().startswith("task_failure manual__")
        time.sleep(2.5)
        runner.reap()
        assert runner.running == 0  # the hanging one was killed at its deadline
    finally:
        runner.close(wait_s=0)
