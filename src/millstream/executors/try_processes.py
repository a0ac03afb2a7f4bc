"""The fork server's book of the processes its zygotes forked (tries and callbacks), and their ends.

A request is *pending* from the moment the fork server hands it to a zygote until the
zygote reports the pid it forked (or refuses it). From then on the fork server watches
the process: it kills its process group at its deadline (``execution_timeout`` plus
:data:`TIMEOUT_GRACE_S` for a try, the callback timeout for a callback) or on request,
and when it has ended turns its result file (or, without one, its wait status) into the
try's finished event. A try that ended without a result (a crash in native code,
``os._exit``, the out-of-memory killer, ``kill -9``) is reported as up_for_retry or
failed, with the exit code or signal in the error; that outcome is stored as the try's
result file too, and every error the executor knows of is appended to the try's log.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from millstream import observability
from millstream.executors.fork_config import (
    TERMINATE_GRACE_S,
    TIMEOUT_GRACE_S,
    ForkServerConfig,
)
from millstream.executors.process_tools import describe_status, kill_group
from millstream.executors.wire import CallbackRequest
from millstream.runtime.events import TaskFinishedEvent, TaskWorkload
from millstream.runtime.events_json import (
    MessageFormatError,
    encode_datetime,
    from_dict,
    from_json,
    to_json,
)
from millstream.runtime.worker import (
    METRICS_SUFFIX,
    RESULT_SUFFIX,
    append_to_log,
    lost_try_event,
    metrics_path,
    path_component,
    remove_unfinished_results,
    write_result_file,
)
from millstream.store.records import TaskInstanceKey

log = logging.getLogger("millstream.executors.forkserver")


@dataclass(frozen=True, slots=True)
class TryRequest:
    """A try the executor asked for, as far as the fork server reads its workload.

    Which try it is, and the DAG file, are all it needs to start and report the try; the
    whole workload is decoded (:meth:`workload`) only when the fork server must write the
    try's outcome itself. The worker that runs the try reads the workload whole.
    """

    key: TaskInstanceKey
    try_number: int
    dag_file: str | None
    data: dict[str, Any]  # the workload message, decoded from JSON

    @classmethod
    def of(cls, data: dict[str, Any]) -> TryRequest:
        """The try a workload message asks for (raises KeyError, TypeError)."""
        raw = data["key"]
        dag_id, run_id, task_id = raw["dag_id"], raw["run_id"], raw["task_id"]
        map_index, try_number = raw.get("map_index", -1), data["try_number"]
        dag_file = data.get("dag_file")
        if not (isinstance(dag_id, str) and isinstance(run_id, str)
                and isinstance(task_id, str) and isinstance(map_index, int)
                and isinstance(try_number, int)
                and (dag_file is None or isinstance(dag_file, str))):
            raise TypeError("a workload's key, try_number or dag_file has the wrong type")
        return cls(TaskInstanceKey(dag_id, run_id, task_id, map_index), try_number,
                   dag_file, data)

    def workload(self) -> TaskWorkload:
        """The whole workload (raises MessageFormatError)."""
        workload = from_dict(self.data)
        if not isinstance(workload, TaskWorkload):
            raise MessageFormatError(f"expected a workload, got {type(workload).__name__}")
        return workload


@functools.lru_cache(maxsize=16)
def _run_folder(log_folder: str, dag_id: str, run_id: str) -> str:
    return str(Path(log_folder) / path_component(dag_id) / path_component(run_id))


def try_files(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
              try_number: int) -> tuple[str, str]:
    """The result and metrics files of one try, where :func:`~millstream.runtime.worker.
    result_path` and ``metrics_path`` put them, as text made without a ``Path`` per part
    (the fork server names them for every try)."""
    folder = (f"{_run_folder(os.fspath(log_folder), key.dag_id, key.run_id)}/"
              f"{path_component(key.task_id)}")
    if key.map_index >= 0:
        folder += f"/map_index={key.map_index}"
    return f"{folder}/{try_number}{RESULT_SUFFIX}", f"{folder}/{try_number}{METRICS_SUFFIX}"


@dataclass(slots=True)
class ForkedProcess:
    """A try or a DAG callback that a zygote forks (or has forked) on the fork server's behalf."""

    request_id: int
    zygote_pid: int
    start: datetime
    workload: TryRequest | None = None
    callback: CallbackRequest | None = None
    result_file: str = ""  # a try's (see try_files)
    pid: int | None = None
    timeout: float | None = None  # execution_timeout or the callback's timeout, in seconds
    deadline: float | None = None  # monotonic time at which its process group is killed
    kill_reason: str | None = None

    def describe(self) -> str:
        """What this process runs, for messages."""
        if self.workload is not None:
            return f"try {self.workload.try_number} of {self.workload.key}"
        assert self.callback is not None
        return f"the {self.callback.event} callback of DAG {self.callback.dag_id}"


def _kill_group(entry: ForkedProcess, signum: int) -> None:
    if entry.pid is not None:
        kill_group(entry.pid, signum)


class ForkedProcesses:
    """Every request handed to a zygote and not yet ended, by request id and by pid.

    ``signal_group(entry, signum)`` signals the process group running a request (by
    default: the group of its pid).
    """

    def __init__(self, signal_group: Callable[[ForkedProcess, int], None] = _kill_group,
                 ) -> None:
        self._signal_group = signal_group
        self._next_id = 0
        self.pending: dict[int, ForkedProcess] = {}
        self.running: dict[int, ForkedProcess] = {}

    def __bool__(self) -> bool:
        return bool(self.pending or self.running)

    def add(self, zygote_pid: int, start: datetime, workload: TryRequest | None = None,
            callback: CallbackRequest | None = None, result: str = "") -> ForkedProcess:
        """A new pending request for the zygote ``zygote_pid`` (``result``: a try's
        result file)."""
        self._next_id += 1
        entry = ForkedProcess(self._next_id, zygote_pid, start, workload, callback, result)
        self.pending[entry.request_id] = entry
        return entry

    def forked(self, request_id: int, pid: int, timeout: float | None) -> ForkedProcess | None:
        """The zygote forked ``pid`` for a pending request: it runs from now on."""
        entry = self.pending.pop(request_id, None)
        if entry is None:
            return None
        entry.pid = pid
        entry.timeout = timeout
        grace = TIMEOUT_GRACE_S if entry.workload is not None else 0.0
        entry.deadline = time.monotonic() + timeout + grace if timeout else None
        self.running[pid] = entry
        if entry.kill_reason is not None:  # terminated before it had a pid
            self._stop(entry, entry.kill_reason)
        return entry

    def of_zygote(self, zygote_pid: int) -> Iterator[ForkedProcess]:
        """Every pending or running entry of one zygote."""
        for entry in [*self.pending.values(), *self.running.values()]:
            if entry.zygote_pid == zygote_pid:
                yield entry

    def busy(self, zygote_pid: int) -> bool:
        """Whether a zygote has a request pending or a process running."""
        return any(True for _ in self.of_zygote(zygote_pid))

    def next_deadline(self) -> float | None:
        """The earliest deadline of a running process."""
        deadlines = [e.deadline for e in self.running.values() if e.deadline is not None]
        return min(deadlines) if deadlines else None

    def enforce_deadlines(self) -> None:
        """Kill the process groups that are past their deadline."""
        now = time.monotonic()
        for entry in list(self.running.values()):
            if entry.deadline is None or now < entry.deadline:
                continue
            entry.deadline = None
            if entry.kill_reason is None:
                if entry.workload is not None:
                    entry.kill_reason = (
                        f"the task ran past its execution_timeout of {entry.timeout or 0:g} s "
                        f"and did not stop within {TIMEOUT_GRACE_S:g} s more, so its "
                        "processes were killed")
                else:
                    entry.kill_reason = f"the callback ran past {entry.timeout or 0:g} s"
            self._signal_group(entry, signal.SIGKILL)

    def terminate(self, key: TaskInstanceKey, try_number: int) -> None:
        """SIGTERM the process group of a try now (or once forked), SIGKILL after a grace."""
        for entry in [*self.pending.values(), *self.running.values()]:
            workload = entry.workload
            if workload is not None and workload.key == key \
                    and workload.try_number == try_number:
                self._stop(entry, "the try was terminated on request")

    def stop_all(self, reason: str) -> int:
        """SIGTERM every try and callback now (or once forked), SIGKILL after a grace;
        returns how many there were."""
        entries = [*self.pending.values(), *self.running.values()]
        for entry in entries:
            self._stop(entry, reason)
        return len(entries)

    def kill_callbacks(self) -> None:
        """Stop every DAG callback at once (the scheduler is stopping)."""
        for entry in [*self.pending.values(), *self.running.values()]:
            if entry.callback is not None:
                entry.kill_reason = "the scheduler stopped while the callback ran"
                entry.deadline = time.monotonic()

    def _stop(self, entry: ForkedProcess, reason: str) -> None:
        entry.kill_reason = reason
        if entry.pid is None:
            return
        grace_end = time.monotonic() + TERMINATE_GRACE_S
        entry.deadline = min(entry.deadline or grace_end, grace_end)
        self._signal_group(entry, signal.SIGTERM)


def try_outcome(config: ForkServerConfig, entry: ForkedProcess, status: int | None) -> str:
    """The finished event (JSON) of a try that has ended, from its result file or status
    (raises MessageFormatError if neither is there and the workload cannot be read)."""
    request = entry.workload
    assert request is not None
    path = entry.result_file
    text = _read_text(path)
    if text:
        try:
            event = from_json(text)
        except MessageFormatError as exc:
            log.error("fork server: unreadable result file %s: %s", path, exc)
        else:
            if isinstance(event, TaskFinishedEvent):
                return text
    how = describe_status(status)
    if entry.kill_reason:
        error = f"{entry.kill_reason} ({how})"
    else:
        error = f"the task process {how} before reporting a result"
        if status is not None and os.WIFSIGNALED(status):
            error += " (a crash, the out-of-memory killer or a kill from outside)"
    return lost_try(config, request.workload(), entry.start, error)


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read().strip()
    except FileNotFoundError:
        return None


def started_json(entry: ForkedProcess, hostname: str) -> str:
    """The started event (JSON) of a try that has a pid: what ``to_json`` writes for its
    ``TaskStartedEvent``, put together directly (the fork server sends one per try)."""
    request = entry.workload
    assert request is not None
    key = request.key
    return json.dumps({
        "kind": "started",
        "key": {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
                "map_index": key.map_index},
        "try_number": request.try_number, "start_date": encode_datetime(entry.start),
        "hostname": hostname, "pid": entry.pid,
    }, separators=(",", ":"), allow_nan=False)


def callback_error(entry: ForkedProcess, status: int | None) -> str | None:
    """Why a callback's process did not end well, or None if it did."""
    if status == 0 and entry.kill_reason is None:
        return None
    how = describe_status(status)
    return f"{entry.kill_reason} ({how})" if entry.kill_reason else f"its process {how}"


def lost_try(config: ForkServerConfig, workload: TaskWorkload, start: datetime,
             error: str) -> str:
    """Record a try that ended (or never started) without a result; its finished event."""
    spilled = observability.take_spilled(metrics_path(config.log_folder, workload.key,
                                                      workload.try_number))
    event = lost_try_event(workload, start, config.clock(), error, spilled)
    remove_unfinished_results(config.log_folder, workload.key, workload.try_number)
    append_to_log(config.log_folder, workload.key, workload.try_number,
                  (logging.ERROR, error),
                  (logging.INFO, f"Try {workload.try_number} ended: {event.state.value}"))
    try:
        write_result_file(config.log_folder, event)
    except OSError as exc:
        log.error("fork server: could not write the result of %s: %s", workload.key, exc)
    return to_json(event)

