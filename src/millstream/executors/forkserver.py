"""The fork server: a warm child of the scheduler that forks a process per task try and watches it.

The local executor starts it with a plain ``fork`` as soon as the executor starts, so it
already has millstream (and, once loaded, each DAG file) imported: starting a try is
then just another ``fork``. The executor and the server talk over two pipes, one JSON
document per line (see :mod:`millstream.runtime.events_json`):

- executor -> server: a workload (``"kind": "workload"``) to run now, or
  ``{"kind": "terminate", "key": {...}, "try_number": n}`` to stop a running try;
- server -> executor: a ``started`` event when a try's process exists, and a
  ``finished`` event when it has ended, always in that order.

For each workload the server finds the task in the workload's DAG file (imported once
per file and imported again when the file changes), forks, and the child starts a
session of its own (so the try and anything it starts form one process group), points
its output at the try's log file and runs the try (:mod:`millstream.runtime.worker`),
leaving a result file behind. The server then:

- reaps the try, kills whatever is left of its process group, and reports the outcome
  from the result file; a try that died without one (a crash in native code,
  ``os._exit``, the out-of-memory killer, ``kill -9``) is reported as up_for_retry or
  failed with the exit code or signal in the error, and that outcome is stored as the
  try's result file too;
- kills the process group of a try that runs past its ``execution_timeout`` plus
  :data:`TIMEOUT_GRACE_S` (the try's own alarm normally stops it first);
- on ``terminate``, sends SIGTERM to the try's process group, then SIGKILL after
  :data:`TERMINATE_GRACE_S`.

Nothing here sleeps or polls on an interval: the server waits in ``poll()`` on its input
and on a self-pipe written by SIGCHLD, with a timeout only when a deadline is near.

When its input reaches end-of-file (the executor stopped, or the scheduler died) the
server starts nothing more, lets the running tries finish, still enforcing their
timeouts, and exits once none is left. Their result files remain for a restarted
scheduler to adopt.
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
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from millstream.authoring.templating import template_environment
from millstream.parsing.loader import DagImportError, load_dag_file
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.events_json import MessageFormatError, from_dict, from_json, to_json
from millstream.runtime.worker import (
    append_to_log,
    lost_try_event,
    read_result_text,
    result_path,
    run_try_in_this_process,
    write_result_file,
)
from millstream.store.records import TaskInstanceKey

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.authoring.task import BaseOperator
    from millstream.runtime.xcom import XComReader

log = logging.getLogger("millstream.executors.forkserver")

TIMEOUT_GRACE_S = 2.0
"""How long past its execution_timeout a try may run before its process group is killed."""

TERMINATE_GRACE_S = 2.0
"""How long a try asked to terminate (SIGTERM) has before SIGKILL."""

DAG_IMPORT_TIMEOUT_S = 30.0
"""How long importing one DAG file in the fork server may take."""

EXIT_FLUSH_TIMEOUT_S = 5.0
"""How long an exiting server waits for the executor to read its last events."""

_READ_SIZE = 1 << 16

# Our ends of the pipes of every fork server this process runs. A fork server started
# later must not hold them open: the other server would never see end-of-file.
_PARENT_ONLY_FDS: set[int] = set()


@dataclass(frozen=True, slots=True)
class ForkServerConfig:
    """What the fork server needs, inherited through ``fork`` (never pickled)."""

    log_folder: Path
    reader_factory: Callable[[], XComReader]
    clock: Callable[[], datetime]
    dag_import_timeout: float = DAG_IMPORT_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class ForkServerHandle:
    """A running fork server as its parent sees it: its pid and our ends of its pipes."""

    pid: int
    to_server: int
    from_server: int


def spawn(config: ForkServerConfig) -> ForkServerHandle:
    """Fork the server now; returns at once in the parent (the pipes are non-blocking)."""
    to_read, to_write = os.pipe()
    from_read, from_write = os.pipe()
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
    return ForkServerHandle(pid, to_write, from_read)


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


def workload_line(workload: TaskWorkload) -> bytes:
    """The message that asks the server to run ``workload``."""
    return (to_json(workload) + "\n").encode()


def terminate_line(key: TaskInstanceKey, try_number: int) -> bytes:
    """The message that asks the server to stop a running try."""
    message = {
        "kind": "terminate",
        "key": {"dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
                "map_index": key.map_index},
        "try_number": try_number,
    }
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


# -- the server process ---------------------------------------------------------------------------
class _CannotRun(Exception):
    """The try cannot be started (its DAG file or task is missing or broken)."""


class _DagFileImportTimeout(Exception):
    """Importing a DAG file took longer than allowed."""


@dataclass(slots=True)
class _Try:
    workload: TaskWorkload
    start: datetime
    timeout: float | None  # the task's execution_timeout in seconds
    deadline: float | None  # monotonic time at which the process group is killed
    kill_reason: str | None = None


@dataclass(slots=True)
class _LoadedFile:
    stamp: tuple[int, int, int]
    dags: dict[str, DAG]
    modules: list[str] = field(default_factory=list)


class _ForkServer:
    def __init__(self, in_fd: int, out_fd: int, config: ForkServerConfig) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.config = config
        self.hostname = socket.gethostname()
        self.tries: dict[int, _Try] = {}
        self.files: dict[str, _LoadedFile] = {}
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.input_open = True
        self.output_open = True
        self.poller = select.poll()
        self.wake_read, self.wake_write = os.pipe()
        self.watching_output = False
        self.parent_pid = os.getppid()  # the executor's process: we serve only it

    # -- main loop ------------------------------------------------------------------------------
    def serve(self) -> int:
        self._install_signals()
        os.set_blocking(self.in_fd, False)
        os.set_blocking(self.out_fd, False)
        self.poller.register(self.in_fd, select.POLLIN)
        self.poller.register(self.wake_read, select.POLLIN)
        _warm_up()
        gc.freeze()  # what came from the scheduler is never collected here: less copying
        while self.input_open or self.tries:
            self._step()
        self._flush_before_exit()
        return 0

    def _step(self) -> None:
        want_output = bool(self.outbox) and self.output_open
        if want_output != self.watching_output:
            if want_output:
                self.poller.register(self.out_fd, select.POLLOUT)
            else:
                self.poller.unregister(self.out_fd)
            self.watching_output = want_output
        for fd, _mask in self.poller.poll(self._poll_timeout_ms()):
            if fd == self.in_fd:
                self._read_input()
            elif fd == self.wake_read:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_read, 4096)
            elif fd == self.out_fd:
                self._flush()
        self._reap()
        self._enforce_deadlines()

    def _poll_timeout_ms(self) -> int:
        deadlines = [t.deadline for t in self.tries.values() if t.deadline is not None]
        if not deadlines:
            return -1
        return max(0, math.ceil((min(deadlines) - time.monotonic()) * 1000))

    def _install_signals(self) -> None:
        # Ctrl-C in the scheduler's terminal reaches us too: the scheduler decides, and
        # we stop when it closes our input. A hang-up is the scheduler's business too.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        os.set_blocking(self.wake_write, False)
        os.set_blocking(self.wake_read, False)
        signal.signal(signal.SIGCHLD, _ignore_signal)
        signal.set_wakeup_fd(self.wake_write, warn_on_full_buffer=False)

    # -- input ----------------------------------------------------------------------------------
    def _read_input(self) -> None:
        try:
            chunk = os.read(self.in_fd, _READ_SIZE)
        except BlockingIOError:
            return
        if not chunk:  # the executor is gone or stopping: start nothing more
            self.input_open = False
            self.poller.unregister(self.in_fd)
            os.close(self.in_fd)
            return
        self.inbox += chunk
        while (end := self.inbox.find(b"\n")) >= 0:
            line = bytes(self.inbox[:end])
            del self.inbox[: end + 1]
            if line.strip():
                self._handle(line)

    def _handle(self, line: bytes) -> None:
        try:
            data = json.loads(line)
            if isinstance(data, dict) and data.get("kind") == "terminate":
                raw = data["key"]
                key = TaskInstanceKey(raw["dag_id"], raw["run_id"], raw["task_id"],
                                      int(raw["map_index"]))
                self._terminate(key, int(data["try_number"]))
                return
            workload = from_dict(data)
        except (ValueError, KeyError, TypeError, MessageFormatError) as exc:
            log.error("fork server: ignoring a malformed message (%s): %.200r", exc, line)
            return
        if not isinstance(workload, TaskWorkload):
            log.error("fork server: expected a workload, got %s", type(workload).__name__)
            return
        self._start(workload)

    # -- starting a try -------------------------------------------------------------------------
    def _start(self, workload: TaskWorkload) -> None:
        if os.getppid() != self.parent_pid:
            # The scheduler that sent this died before it could record the start; the
            # next scheduler hands the task out again (no log file: it never began).
            log.warning("fork server: not starting %s, its scheduler is gone", workload.key)
            return
        try:
            task = self._task_for(workload)
        except _CannotRun as exc:
            self._report_lost(workload, self.config.clock(), str(exc))
            return
        timeout = _seconds(getattr(task, "execution_timeout", None))
        # A result left by an earlier run of the same try (a run id used again) must not
        # be taken for this one's.
        with contextlib.suppress(FileNotFoundError):
            result_path(self.config.log_folder, workload.key, workload.try_number).unlink()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            with contextlib.suppress(Exception):
                stream.flush()
        start = self.config.clock()
        pid = os.fork()
        if pid == 0:
            self._become_try(task, workload)
        deadline = time.monotonic() + timeout + TIMEOUT_GRACE_S if timeout else None
        self.tries[pid] = _Try(workload, start, timeout, deadline)
        self._send(to_json(TaskStartedEvent(workload.key, workload.try_number, start,
                                            self.hostname, pid)))

    def _become_try(self, task: BaseOperator, workload: TaskWorkload) -> NoReturn:
        code = 70
        try:
            os.setsid()  # a session and process group of its own, killed as one
            signal.set_wakeup_fd(-1)
            for fd in (self.wake_read, self.wake_write, self.out_fd) + (
                (self.in_fd,) if self.input_open else ()
            ):
                os.close(fd)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGALRM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            code = run_try_in_this_process(task, workload, self.config.log_folder,
                                           self.config.reader_factory, self.config.clock)
        except BaseException:
            with contextlib.suppress(BaseException):
                traceback.print_exc()
        finally:
            os._exit(code)

    def _task_for(self, workload: TaskWorkload) -> BaseOperator:
        key = workload.key
        path = workload.dag_file
        if not path:
            raise _CannotRun(f"the workload of {key.task_id!r} names no DAG file to load")
        dags = self._load(path)
        dag = dags.get(key.dag_id)
        if dag is None:
            defined = ", ".join(sorted(dags)) or "none"
            raise _CannotRun(f"DAG {key.dag_id!r} is not defined in {path} "
                             f"(it defines: {defined})")
        task = dag.task_dict.get(key.task_id)
        if task is None:
            raise _CannotRun(f"DAG {key.dag_id!r} in {path} has no task {key.task_id!r}")
        return task

    def _load(self, path: str) -> dict[str, DAG]:
        try:
            info = os.stat(path)
        except OSError as exc:
            raise _CannotRun(f"DAG file {path} cannot be read: {exc}") from None
        stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self.files.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached.dags
        before = set(sys.modules)
        try:
            with _time_limit(self.config.dag_import_timeout, path):
                dags = load_dag_file(path)
        except DagImportError as exc:
            raise _CannotRun(f"DAG file {path} failed to import: {exc.summary}\n"
                             f"{exc.message}") from None
        except _DagFileImportTimeout as exc:
            raise _CannotRun(str(exc)) from None
        modules = [n for n in set(sys.modules) - before if n.startswith("millstream_dagfile_")]
        for dag in dags.values():
            # Built once here, the DAG's template environment is inherited by every try.
            with contextlib.suppress(Exception):
                template_environment(dag)
        self.files[path] = _LoadedFile(stamp, dags, modules)
        if cached is not None:
            # The file changed: its previous DAGs (cycles of objects, frozen below) go.
            for name in cached.modules:
                sys.modules.pop(name, None)
            del cached
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        return dags

    # -- ending a try ---------------------------------------------------------------------------
    def _reap(self) -> None:
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid == 0:
                return
            pid = info.si_pid
            running = self.tries.pop(pid, None)
            if running is not None:
                # The try's zombie still holds its group id: the group cannot be another's.
                _kill_group(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            if running is not None:
                self._report_end(pid, running, status)

    def _report_end(self, pid: int, running: _Try, status: int) -> None:
        workload = running.workload
        path = result_path(self.config.log_folder, workload.key, workload.try_number)
        text = read_result_text(path)
        if text:
            try:
                event = from_json(text)
            except MessageFormatError as exc:
                log.error("fork server: unreadable result file %s: %s", path, exc)
            else:
                if isinstance(event, TaskFinishedEvent):
                    self._send(text)
                    return
        how = _describe_status(status)
        if running.kill_reason:
            error = f"{running.kill_reason} ({how})"
        else:
            error = f"the task process {how} before reporting a result"
            if os.WIFSIGNALED(status):
                error += " (a crash, the out-of-memory killer or a kill from outside)"
        self._report_lost(workload, running.start, error)

    def _report_lost(self, workload: TaskWorkload, start: datetime, error: str) -> None:
        event = lost_try_event(workload, start, self.config.clock(), error)
        append_to_log(self.config.log_folder, workload.key, workload.try_number,
                      f"ERROR {error}\nTry {workload.try_number} ended: {event.state.value}")
        try:
            write_result_file(self.config.log_folder, event)
        except OSError as exc:
            log.error("fork server: could not write the result of %s: %s", workload.key, exc)
        self._send(to_json(event))

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for pid, running in self.tries.items():
            if running.deadline is None or now < running.deadline:
                continue
            running.deadline = None
            if running.kill_reason is None:
                running.kill_reason = (
                    f"the task ran past its execution_timeout of {running.timeout or 0:g} s "
                    f"and did not stop within {TIMEOUT_GRACE_S:g} s more, so its processes "
                    "were killed"
                )
            _kill_group(pid, signal.SIGKILL)

    def _terminate(self, key: TaskInstanceKey, try_number: int) -> None:
        for pid, running in self.tries.items():
            workload = running.workload
            if workload.key == key and workload.try_number == try_number:
                running.kill_reason = "the try was terminated on request"
                grace_end = time.monotonic() + TERMINATE_GRACE_S
                running.deadline = min(running.deadline or grace_end, grace_end)
                _kill_group(pid, signal.SIGTERM)

    # -- output ---------------------------------------------------------------------------------
    def _send(self, line: str) -> None:
        if not self.output_open:
            return
        self.outbox += line.encode() + b"\n"
        self._flush()

    def _flush(self) -> None:
        while self.outbox and self.output_open:
            try:
                written = os.write(self.out_fd, self.outbox)
            except BlockingIOError:
                return
            except OSError:  # the executor is gone: its successor adopts the result files
                self.output_open = False
                self.outbox.clear()
                return
            del self.outbox[:written]

    def _flush_before_exit(self) -> None:
        deadline = time.monotonic() + EXIT_FLUSH_TIMEOUT_S
        while self.outbox and self.output_open:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            select.select([], [self.out_fd], [], left)
            self._flush()


# -- helpers --------------------------------------------------------------------------------------
def _warm_up() -> None:
    """Run one throw-away try here, so every lazy import and cache of the task runner
    (Jinja, the context, XCom encoding) is in place before the first fork.

    Each try's process then starts with them ready instead of paying tens of
    milliseconds for them on every try.
    """
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


def _ignore_signal(signum: int, frame: object) -> None:
    """SIGCHLD only has to wake the loop (through the wakeup fd)."""


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _seconds(timeout: Any) -> float | None:
    if timeout is None:
        return None
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    return seconds if seconds > 0 else None


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        return f"was killed by signal {name} ({signum})"
    if os.WIFEXITED(status):
        return f"exited with code {os.WEXITSTATUS(status)}"
    return f"ended with wait status {status}"


@contextlib.contextmanager
def _time_limit(seconds: float, path: str) -> Iterator[None]:
    """Interrupt an import that runs longer than ``seconds`` (SIGALRM; main thread only)."""
    if not seconds or seconds <= 0:
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise _DagFileImportTimeout(
            f"DAG file {path} took longer than {seconds:g} s to import (an endless loop or "
            "a slow call at module level?)"
        )

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
