"""The files a try's process leaves: its result file (created as the try starts under a dot
name, renamed whole at its end), and what a reused process's successive tries write."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from millstream import DAG
from millstream.model.states import TaskState
from millstream.operators.python import PythonOperator
from millstream.runtime.events import TaskWorkload
from millstream.runtime.worker import read_result_file, result_path, run_try_in_this_process
from millstream.store.memory import MemoryXComRepo
from millstream.store.records import DagRunRecord, TaskInstanceKey

LOGICAL = datetime(2026, 3, 4, tzinfo=UTC)
RUN = DagRunRecord("files", "manual__1", LOGICAL, LOGICAL - timedelta(days=1), LOGICAL)


def _workload(task_id: str) -> TaskWorkload:
    return TaskWorkload(TaskInstanceKey("files", RUN.run_id, task_id), 1, 0, RUN, {})


def _in_a_process(tries: list[tuple[PythonOperator, TaskWorkload]], log_folder: Path) -> None:
    """Run ``tries`` one after another in one forked process, as a reused worker does."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            xcoms = MemoryXComRepo()
            for task, workload in tries:
                code = code or run_try_in_this_process(task, workload, log_folder,
                                                       lambda: xcoms)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _task(task_id: str, fn: Callable[..., Any]) -> PythonOperator:
    dag = DAG("files", start_date=LOGICAL, schedule=None)
    return PythonOperator(task_id=task_id, python_callable=fn, dag=dag)


def test_while_a_try_runs_its_result_exists_only_under_a_dot_name(tmp_path: Path) -> None:
    seen = tmp_path / "seen.json"
    folder = result_path(tmp_path / "logs", _workload("look").key, 1).parent

    def look() -> None:
        seen.write_text(json.dumps(sorted(os.listdir(folder))))

    _in_a_process([(_task("look", look), _workload("look"))], tmp_path / "logs")

    during = json.loads(seen.read_text())
    assert "1.result.json" not in during
    assert [name for name in during if name.startswith(".1.result.json.")] != []
    assert sorted(os.listdir(folder)) == ["1.log", "1.rendered.json", "1.result.json"]
    event = read_result_file(tmp_path / "logs", _workload("look").key, 1)
    assert event is not None and event.state is TaskState.SUCCESS


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_a_task_that_reuses_the_result_files_descriptor_keeps_its_own_file(
        tmp_path: Path) -> None:
    own = tmp_path / "own.txt"
    own.write_text("the task's own data\n")

    def take_the_descriptor() -> None:
        for name in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{name}")
            except OSError:
                continue
            if ".1.result.json." in target:  # close it, then reuse its number for our file
                mine = os.open(own, os.O_WRONLY | os.O_APPEND)
                os.dup2(mine, int(name))
                os.close(mine)

    _in_a_process([(_task("rogue", take_the_descriptor), _workload("rogue"))],
                  tmp_path / "logs")

    assert own.read_text() == "the task's own data\n"
    event = read_result_file(tmp_path / "logs", _workload("rogue").key, 1)
    assert event is not None and event.state is TaskState.SUCCESS


def test_a_reused_process_writes_each_try_s_result_to_its_own_file(tmp_path: Path) -> None:
    def fail() -> None:
        raise ValueError("second try fails")

    tries = [(_task("first", lambda: 1), _workload("first")),
             (_task("second", fail), _workload("second")),
             (_task("third", lambda: 3), _workload("third"))]
    _in_a_process(tries, tmp_path / "logs")

    states = {}
    for task_id in ("first", "second", "third"):
        event = read_result_file(tmp_path / "logs", _workload(task_id).key, 1)
        assert event is not None
        states[task_id] = event.state
        folder = result_path(tmp_path / "logs", _workload(task_id).key, 1).parent
        assert not [name for name in os.listdir(folder) if name.startswith(".")]
    assert states == {"first": TaskState.SUCCESS, "second": TaskState.FAILED,
                      "third": TaskState.SUCCESS}
