"""The fork server's account of a try that has ended: its result file, else its exit status."""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from millstream.executors.fork_config import ForkServerConfig
from millstream.executors.try_processes import ForkedProcess, TryRequest, try_files, try_outcome
from millstream.model.states import TaskState
from millstream.runtime.events import TaskFinishedEvent, TaskWorkload
from millstream.runtime.events_json import from_json, to_json
from millstream.runtime.worker import write_result_file
from millstream.store.records import DagRunRecord, TaskInstanceKey

from .helpers import memory_reader

MOMENT = datetime(2026, 1, 1, tzinfo=UTC)
KEY = TaskInstanceKey("etl", "manual__2026-01-01T00:00:00+00:00", "load")


def _ended(log_folder: Path) -> tuple[ForkServerConfig, ForkedProcess]:
    run = DagRunRecord("etl", KEY.run_id, MOMENT, MOMENT, MOMENT)
    workload = TaskWorkload(KEY, 1, 1, run, {}, "/dags/etl.py", step_id="s1")
    config = ForkServerConfig(log_folder, memory_reader, lambda: MOMENT)
    request = TryRequest.of(json.loads(to_json(workload)))
    result, _ = try_files(log_folder, KEY, 1)
    return config, ForkedProcess(1, 10, MOMENT, request, pid=20, result_file=result)


def test_a_try_s_result_file_is_its_outcome_as_written(tmp_path: Path) -> None:
    config, entry = _ended(tmp_path)
    event = TaskFinishedEvent(KEY, 1, TaskState.SUCCESS, MOMENT, MOMENT, step_id="s1")
    write_result_file(tmp_path, event)
    assert from_json(try_outcome(config, entry, 0)) == event


@pytest.mark.parametrize("text", ['{"kind":"finished","key":', "[1, 2]",
                                  '{"kind":"started"}'])
def test_a_result_file_that_is_no_outcome_counts_as_none(tmp_path: Path, text: str) -> None:
    config, entry = _ended(tmp_path)
    Path(entry.result_file).parent.mkdir(parents=True)
    Path(entry.result_file).write_text(text)
    event = from_json(try_outcome(config, entry, signal.SIGKILL))
    assert isinstance(event, TaskFinishedEvent)
    assert event.state is TaskState.UP_FOR_RETRY and event.step_id == "s1"
    assert "was killed by signal SIGKILL" in (event.error or "")
    assert from_json(Path(entry.result_file).read_text()) == event  # stored for adoption


def test_without_a_result_file_the_exit_status_tells(tmp_path: Path) -> None:
    config, entry = _ended(tmp_path)
    event = from_json(try_outcome(config, entry, 3 << 8))
    assert isinstance(event, TaskFinishedEvent)
    assert "exited with code 3 before reporting a result" in (event.error or "")
    assert os.path.exists(entry.result_file)
