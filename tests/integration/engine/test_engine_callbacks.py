"""DAG callbacks run in processes forked from their DAG file's zygote, as tries are: one
that hangs is killed at its deadline without holding up the others."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from engine_helpers import wait_for

from millstream.executors.callback_processes import ForkedCallbackRunner
from millstream.executors.local import LocalExecutor
from millstream.parsing.loader import load_dag_file
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.runs import plan_run
from millstream.store.memory import MemoryStore

DAG_SOURCE = """
import os
import time
from pathlib import Path

from millstream import DAG
from millstream.operators.empty import EmptyOperator

OUT = Path({out!r})

def on_failure(context):
    if context["dag_run"].conf.get("hang"):
        time.sleep(60)
    OUT.write_text(" ".join(str(part) for part in (
        context["reason"], context["run_id"], os.getpid(), os.getppid())))

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


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    with LocalExecutor(2, tmp_path / "logs", lambda: MemoryStore().xcoms) as started:
        yield started


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_callback_runs_in_a_process_forked_from_its_files_zygote(
    tmp_path: Path, executor: LocalExecutor,
) -> None:
    structure, out = _setup(tmp_path)
    runner = ForkedCallbackRunner(executor, timeout_s=30)
    runner.dag_run_finished(structure, _run(structure, {}), False, "task_failure")
    wait_for(lambda: out.exists() and out.read_text().count(" ") == 3, 30,
             "the callback to write its file")
    reason, run_id, pid, zygote = out.read_text().split()
    assert (reason, run_id.startswith("manual__")) == ("task_failure", True)
    assert int(pid) != os.getpid()
    # Its parent is the zygote of callback_dag.py, whose parent is the fork server.
    assert parent_of(int(zygote)) == executor.fork_server_pid
    wait_for(lambda: runner.running == 0, 10, "the callback's end to be reported")


def test_a_hanging_callback_is_killed_and_does_not_block_the_next(
    tmp_path: Path, executor: LocalExecutor,
) -> None:
    structure, out = _setup(tmp_path)
    runner = ForkedCallbackRunner(executor, timeout_s=2)
    runner.dag_run_finished(structure, _run(structure, {"hang": True}), False, "stuck")
    runner.dag_run_finished(structure, _run(structure, {}), False, "task_failure")
    wait_for(lambda: out.exists(), 30, "the second callback to write its file")
    assert out.read_text().startswith("task_failure manual__")
    # The second one's end is reported once its process has exited, a moment after it
    # wrote its file; the hanging one still runs then.
    wait_for(lambda: runner.running == 1, 10, "the second callback's end to be reported")
    wait_for(lambda: runner.running == 0, 10, "the hanging callback to be killed")
    started = time.monotonic()
    runner.close(wait_s=5)
    assert time.monotonic() - started < 1
