"""The fork server: a warm child of the scheduler whose zygotes run every try and callback.

The local executor starts it as soon as it starts itself: as a fresh interpreter
(:mod:`millstream.executors.forkserver_main`) that imports millstream's task runner and
nothing of the scheduler's, or, when its configuration cannot be passed to another
interpreter, as a fork. It warms up with one throw-away try. It never imports a DAG
file itself: each DAG file gets a zygote
(:mod:`millstream.executors.zygote_pool`), a child that imports the file under the
parser's memory cap and timeout and forks that file's tries, so starting a try is still
one ``fork``. The executor and the server talk over two pipes, one JSON document per
line (:mod:`millstream.executors.wire`).

For each workload the server removes any stale result file, hands the workload to the
zygote of its DAG file and, when the zygote reports the try's pid, sends a ``started``
event; when the try has ended it sends the ``finished`` event (always in that order)
from the try's result file or its wait status (:mod:`millstream.executors.try_processes`).
A zygote whose import fails, hangs or blows the memory cap is gone, and the tries sent
to it fail with that error in their logs; the server lives on. The server is the
"subreaper" of its descendants: a try whose zygote died is reparented to it and still
reaped here, with its real exit status.

Nothing here sleeps or polls on an interval: the server waits in ``poll()`` on its
pipes and on a self-pipe written by SIGCHLD, with a timeout only when a deadline is
near. When its input reaches end-of-file (the executor stopped, or the scheduler died)
the server starts nothing more, retires its zygotes, lets the running tries finish,
still enforcing their timeouts, and exits once every process it started has ended.
Their result files remain for a restarted scheduler to adopt. A ``millstream worker``'s
server stops its tries instead (``tries_outlive_executor``): no one there would adopt
them, and the scheduler runs them again elsewhere.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import os
import select
import signal
import socket
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from millstream.executors import forkserver_main
from millstream.executors.fork_config import EXIT_FLUSH_TIMEOUT_S, ForkServerConfig
from millstream.executors.process_tools import (
    JsonLinePipe,
    describe_status,
    drain_wakeups,
    exited_child,
    is_child,
    kill_group,
    serve_signals,
)
from millstream.executors.try_processes import (
    ForkedProcess,
    ForkedProcesses,
    TryRequest,
    callback_error,
    lost_try,
    started_json,
    try_files,
    try_outcome,
)
from millstream.executors.wire import (
    CallbackRequest,
    callback_ended_message,
    key_of_terminate,
    try_request_line,
)
from millstream.executors.zygote_pool import CannotStart, Zygote, ZygotePool
from millstream.parsing.limits import adopt_orphaned_descendants
from millstream.runtime.events import TaskWorkload
from millstream.runtime.events_json import (
    MessageFormatError,
    from_dict,
    from_json,
    to_json,
)
from millstream.store.current import set_store_factory
from millstream.store.records import TaskInstanceKey

log = logging.getLogger("millstream.executors.forkserver")

# Our ends of the pipes of every fork server this process runs. A fork server started
# later must not hold them open: the other server would never see end-of-file.
_PARENT_ONLY_FDS: set[int] = set()


@dataclass(frozen=True, slots=True)
class ForkServerHandle:
    """A running fork server as its parent sees it: its pid and our ends of its pipes."""

    pid: int
    to_server: int
    from_server: int
    fresh: bool = False  # a fresh interpreter, which says READY_LINE once it is warm


def spawn(config: ForkServerConfig, fresh: bool = True) -> ForkServerHandle:
    """Start the server now, as a fresh interpreter if ``fresh`` and the configuration
    allows, else as a fork; returns at once (the pipes are non-blocking)."""
    to_read, to_write = os.pipe()
    from_read, from_write = os.pipe()
    pid = forkserver_main.launch(config, to_read, from_write) if fresh else None
    fresh = pid is not None
    if pid is None:
        pid = os.fork()
    if pid == 0:  # the fork server
        code = 70
        try:
            os.close(to_write)
            os.close(from_read)
            for fd in _PARENT_ONLY_FDS:
                with contextlib.suppress(OSError):
                    os.close(fd)
            _PARENT_ONLY_FDS.clear()
            code = _ForkServer(to_read, from_write, config).serve()
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            os._exit(code)  # never run the scheduler's atexit handlers or finalizers here
    os.close(to_read)
    os.close(from_write)
    os.set_blocking(to_write, False)
    os.set_blocking(from_read, False)
    _PARENT_ONLY_FDS.update((to_write, from_read))
    return ForkServerHandle(pid, to_write, from_read, fresh)


def serve_fresh(in_fd: int, out_fd: int, config: ForkServerConfig) -> int:
    """Serve as a fork server started as a fresh interpreter; the exit code."""
    if config.store_factory is not None:  # what tries open variables and connections with
        set_store_factory(config.store_factory)
    return _ForkServer(in_fd, out_fd, config).serve(say_ready=True)


def release(handle: ForkServerHandle) -> None:
    """Close our ends of a server's pipes (if still open) and forget them."""
    for fd in (handle.to_server, handle.from_server):
        if fd in _PARENT_ONLY_FDS:
            _PARENT_ONLY_FDS.discard(fd)
            with contextlib.suppress(OSError):
                os.close(fd)


def close_to_server(handle: ForkServerHandle) -> None:
    """Close the pipe into the server: it finishes its running tries and exits."""
    if handle.to_server in _PARENT_ONLY_FDS:
        _PARENT_ONLY_FDS.discard(handle.to_server)
        with contextlib.suppress(OSError):
            os.close(handle.to_server)


class _ForkServer:
    def __init__(self, in_fd: int, out_fd: int, config: ForkServerConfig) -> None:
        self.config = config
        self.hostname = socket.gethostname()
        self.executor = JsonLinePipe(in_fd, out_fd, batched=True)
        self.processes = ForkedProcesses(self._signal)
        self.wake_read, self.wake_write = os.pipe()
        self.zygotes = ZygotePool(config, self._own_fds)
        self.parent_pid = os.getppid()  # the executor's process: we serve only it

    def _own_fds(self) -> list[int]:
        fds = [self.wake_read, self.wake_write]
        return fds + [fd for fd in (self.executor.read_fd, self.executor.write_fd)
                      if fd is not None]

    def _busy(self, zygote: Zygote) -> bool:
        return self.processes.busy(zygote.pid)

    def _signal(self, entry: ForkedProcess, signum: int) -> None:
        """Signal the process group running ``entry``.

        A worker that runs many tries is signalled by its zygote, which knows whether it
        still runs this try or has moved on to the next; once the zygote is gone or
        takes no more requests, the worker takes none either and is signalled here.
        """
        zygote = self.zygotes.by_pid.get(entry.zygote_pid)
        if self.config.reuses_workers and entry.workload is not None and zygote is not None \
                and zygote.pipe.write_fd is not None:
            zygote.pipe.send({"kind": "signal", "id": entry.request_id, "signal": signum})
        elif entry.pid is not None:
            kill_group(entry.pid, signum)

    # -- main loop ------------------------------------------------------------------------------
    def serve(self, say_ready: bool = False) -> int:
        self._install_signals()
        adopt_orphaned_descendants()
        _warm_up()
        gc.freeze()  # what came from the scheduler is never collected here: less copying
        if say_ready:
            self.executor.send(forkserver_main.READY_LINE.decode().strip())
        while self.executor.read_fd is not None or self.processes or self.zygotes:
            self._step()
        self.executor.flush_before_exit(EXIT_FLUSH_TIMEOUT_S)
        return 0

    def _step(self) -> None:
        # What the last round said goes out now, in one write per pipe.
        self.executor.flush()
        for zygote in self.zygotes.by_pid.values():
            zygote.pipe.flush()
        poller = select.poll()
        poller.register(self.wake_read, select.POLLIN)
        for pipe in [self.executor, *(z.pipe for z in self.zygotes.by_pid.values())]:
            if pipe.read_fd is not None:
                poller.register(pipe.read_fd, select.POLLIN)
            if pipe.wants_write and pipe.write_fd is not None:
                poller.register(pipe.write_fd, select.POLLOUT)
        # Only what poll() found ready is read, and children are looked for only after a
        # SIGCHLD (its byte on the wakeup pipe): no idle read or wait each time round.
        ready = {fd for fd, _ in poller.poll(self._poll_timeout_ms())}
        signalled = self.wake_read in ready and drain_wakeups(self.wake_read)
        for zygote in list(self.zygotes.by_pid.values()):
            zygote.pipe.flush()
            if zygote.pipe.read_fd in ready or zygote.failure is not None:
                self._read_zygote(zygote)
        self.executor.flush()
        if self.executor.read_fd in ready:
            self._read_executor()
        if signalled:
            self._reap()
        self.processes.enforce_deadlines()
        self.zygotes.enforce_deadlines(self._busy)

    def _poll_timeout_ms(self) -> int:
        moments = [m for m in (self.processes.next_deadline(),
                               self.zygotes.next_deadline(self._busy)) if m is not None]
        if not moments:
            return -1
        return max(0, math.ceil((min(moments) - time.monotonic()) * 1000))

    def _install_signals(self) -> None:
        # Ctrl-C in the scheduler's terminal reaches us too: the scheduler decides, and
        # we stop when it closes our input.
        serve_signals(self.wake_read, self.wake_write)

    # -- from the executor ----------------------------------------------------------------------
    def _read_executor(self) -> None:
        if self.executor.read_fd is None:
            return
        for line in self.executor.read_lines():
            self._handle(line)
        if self.executor.read_fd is None:  # the executor is gone or stopping
            self.zygotes.retire_all()
            if not self.config.tries_outlive_executor and self.processes:
                stopped = self.processes.stop_all("the worker running the try went away")
                log.warning("fork server: the worker is gone; stopping its %d running "
                            "tries", stopped)

    def _handle(self, line: bytes) -> None:
        try:
            data = json.loads(line)
            kind = data.get("kind") if isinstance(data, dict) else None
            if kind == "terminate":
                self.processes.terminate(*key_of_terminate(data))
                return
            if kind == "prepare":
                self.zygotes.prepare(str(data["dag_file"]))
                return
            if kind == "kill_callbacks":
                self.processes.kill_callbacks()
                return
            if kind == "callback":
                self._start_callback(CallbackRequest.from_dict(data["callback"]))
                return
            if kind != "workload":
                message = from_dict(data)  # says what is wrong with it
                log.error("fork server: expected a workload, got %s", type(message).__name__)
                return
            request = TryRequest.of(data)
        except (ValueError, KeyError, TypeError, MessageFormatError) as exc:
            log.error("fork server: ignoring a malformed message (%s): %.200r", exc, line)
            return
        self._start_try(request, line)

    def _start_try(self, request: TryRequest, raw: bytes) -> None:
        """Hand a try to its zygote (``raw``: the line its workload came in, passed on as is)."""
        if os.getppid() != self.parent_pid:
            # The scheduler that sent this died before it could record the start; the
            # next scheduler hands the task out again (no log file: it never began).
            log.warning("fork server: not starting %s, its scheduler is gone", request.key)
            return
        start = self.config.clock()
        if not request.dag_file:
            self._lost(request, start, f"the workload of {request.key.task_id!r} names no "
                       "DAG file to load")
            return
        try:
            zygote = self.zygotes.zygote_for(request.dag_file, self._busy)
        except CannotStart as exc:
            self._lost(request, start, str(exc))
            return
        # A result left by an earlier run of the same try (a run id used again) must not
        # be taken for this one's.
        result, metrics = try_files(self.config.log_folder, request.key, request.try_number)
        for stale in (result, metrics):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        entry = self.processes.add(zygote.pid, start, workload=request, result=result)
        zygote.pipe.send(try_request_line(entry.request_id, raw))

    def _lost(self, request: TryRequest, start: datetime, error: str) -> None:
        """Report a try that ended, or never started, without a result."""
        try:
            self._send(lost_try(self.config, request.workload(), start, error))
        except MessageFormatError as exc:  # the executor never sends such a workload
            log.error("fork server: cannot report try %d of %s (%s), its workload is "
                      "malformed: %s", request.try_number, request.key, error, exc)

    def _start_callback(self, request: CallbackRequest) -> None:
        try:
            zygote = self.zygotes.zygote_for(request.dag_file, self._busy)
        except CannotStart as exc:
            self._callback_failed(request, str(exc))
            return
        entry = self.processes.add(zygote.pid, self.config.clock(), callback=request)
        zygote.pipe.send({"id": entry.request_id, "kind": "callback",
                          "callback": request.to_dict()})

    # -- from the zygotes -----------------------------------------------------------------------
    def _read_zygote(self, zygote: Zygote) -> None:
        for line in zygote.pipe.read_lines():
            try:
                data: dict[str, Any] = json.loads(line)
                kind = data["kind"]
                if kind == "ready":
                    zygote.ready = True
                    zygote.import_deadline = None
                elif kind == "failed":
                    self.zygotes.failed(zygote, str(data["error"]))
                elif kind == "forked":
                    self._forked(int(data["id"]), int(data["pid"]), data.get("timeout"))
                elif kind == "refused":
                    entry = self.processes.pending.pop(int(data["id"]), None)
                    if entry is not None:
                        self._never_started(entry, str(data["error"]))
                elif kind == "exited":
                    ended = self.processes.running.pop(int(data["pid"]), None)
                    if ended is not None:
                        self._ended(ended, int(data["status"]), data.get("metrics"))
                elif kind == "ran":  # a worker ran the try, left its result, and lives on
                    ended = self.processes.running.get(int(data["pid"]))
                    if ended is not None and ended.request_id == int(data["id"]):
                        del self.processes.running[ended.pid or 0]
                        self._ended(ended, 0)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("fork server: ignoring a malformed message from a zygote (%s): "
                          "%.200r", exc, line)
        if zygote.failure is not None:
            for entry in list(self.processes.of_zygote(zygote.pid)):
                if entry.pid is None:
                    del self.processes.pending[entry.request_id]
                    self._never_started(entry, zygote.failure)

    def _forked(self, request_id: int, pid: int, timeout: float | None) -> None:
        entry = self.processes.forked(request_id, pid, timeout)
        if entry is not None and entry.workload is not None:
            self._send(started_json(entry, self.hostname))

    def _zygote_ended(self, zygote: Zygote, status: int) -> None:
        self._read_zygote(zygote)  # what it said before it went
        self.zygotes.ended(zygote)
        how = describe_status(status)
        error = zygote.failure or (
            f"the process importing DAG file {zygote.path} {how}" if not zygote.ready
            else f"the zygote of DAG file {zygote.path} {how} before it started this")
        for entry in list(self.processes.of_zygote(zygote.pid)):
            if entry.pid is None:
                del self.processes.pending[entry.request_id]
                self._never_started(entry, error)
            elif not is_child(entry.pid):
                # The zygote reaped it but could not say so: its result file tells.
                del self.processes.running[entry.pid]
                self._ended(entry, None)
            # Otherwise it now is our child (we are its subreaper): _reap sees its end.

    def _never_started(self, entry: ForkedProcess, error: str) -> None:
        if entry.workload is not None:
            self._lost(entry.workload, entry.start, error)
        elif entry.callback is not None:
            self._callback_failed(entry.callback, error)

    def _ended(self, entry: ForkedProcess, status: int | None,
               metrics: list[str] | None = None) -> None:
        zygote = self.zygotes.by_pid.get(entry.zygote_pid)
        if zygote is not None:
            zygote.last_used = time.monotonic()
        if entry.workload is not None:
            try:
                self._send(try_outcome(self.config, entry, status))
            except MessageFormatError as exc:  # the executor never sends such a workload
                log.error("fork server: cannot report %s, its workload is malformed: %s",
                          entry.describe(), exc)
        elif entry.callback is not None:
            error = callback_error(entry, status)
            if error:
                log.error("DAG %s: the %s callback failed: %s", entry.callback.dag_id,
                          entry.callback.event, error)
            self._send(json.dumps(callback_ended_message(entry.callback, error, metrics)))

    def _callback_failed(self, request: CallbackRequest, error: str) -> None:
        log.error("DAG %s: the %s callback could not run: %s", request.dag_id, request.event,
                  error)
        self._send(json.dumps(callback_ended_message(request, error)))

    # -- processes that ended -------------------------------------------------------------------
    def _reap(self) -> None:
        while (pid := exited_child()) is not None:
            zygote = self.zygotes.by_pid.get(pid)
            entry = self.processes.running.pop(pid, None) if zygote is None else None
            if entry is not None:  # a try or callback whose zygote died before it
                kill_group(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            if zygote is not None:
                self._zygote_ended(zygote, status)
            elif entry is not None:
                self._ended(entry, status)

    def _send(self, line: str) -> None:
        self.executor.send(line)


# -- helpers --------------------------------------------------------------------------------------
def _warm_up() -> None:
    """Run one throw-away try here, so every lazy import and cache of the task runner
    (Jinja, the context, XCom encoding) is in place before the first fork.

    Each zygote, and each try's process, then starts with them ready instead of paying
    tens of milliseconds for them on every try. The cryptography library, which tries
    reading connections and secret variables need, is imported here for the same reason,
    and so is the Airflow compatibility layer, which loading any DAG file imports first.
    """
    import cryptography.fernet  # noqa: F401 - shared with every try, not imported by each

    import millstream.compat.airflow  # noqa: F401 - imported by every load of a DAG file
    from millstream.authoring.dag import DAG
    from millstream.operators.python import PythonOperator
    from millstream.runtime.task_runner import run_task_try
    from millstream.store.memory import MemoryXComRepo
    from millstream.store.records import DagRunRecord

    task_log = logging.getLogger("millstream.task")
    was_disabled, task_log.disabled = task_log.disabled, True
    try:
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        dag = DAG("millstream_fork_server_warm_up", start_date=moment, schedule=None)
        task = PythonOperator(task_id="warm_up", python_callable=lambda value: {"v": value},
                              op_kwargs={"value": "{{ ds }} {{ params }}"}, dag=dag)
        run = DagRunRecord(dag.dag_id, "warm_up", moment, moment, moment)
        workload = TaskWorkload(TaskInstanceKey(dag.dag_id, run.run_id, task.task_id), 1, 0,
                                run, {})
        event = run_task_try(task, workload, MemoryXComRepo())
        from_json(to_json(event))
    except Exception:  # only a missed optimisation
        log.debug("fork server warm-up failed", exc_info=True)
    finally:
        task_log.disabled = was_disabled
