"""Workers: processes forked from a zygote that run tries of its DAG file one after another.

With ``[executor] tries_per_process`` above 1, a zygote (:mod:`millstream.executors.zygote`)
does not fork a process per try: it keeps a pool of workers, each a fork of the zygote
(so the DAG file is already imported) in a session and process group of its own. A try
goes to an idle worker, or to a new one if every worker is busy; the worker runs it in
its own main thread, exactly as a fresh process would (log file, XCom reader, result
file), and tells the zygote it is done. The conventions are those of Celery's
``worker_max_tasks_per_child`` and gunicorn's ``max_requests``.

Every isolation promise of a process per try still holds, because a worker runs one try
at a time and is replaced whenever a try may have left it different:

- A crash, ``os._exit``, ``kill -9``, the out-of-memory killer: the worker dies with its
  try, which is reported as it would be with a process of its own; the next try gets
  another worker.
- ``execution_timeout`` and terminate requests kill the worker's whole process group
  (the try and everything it started). The zygote does the killing, as it alone knows
  which try a worker is running at that moment, so a signal meant for a try that has just
  ended never reaches the next one.
- After each try the worker checks itself (:class:`Health`) against how it was before
  its first try: threads left running, child processes left running (the worker is the
  subreaper of its descendants, so none escapes the check), a changed working folder,
  environment, ``sys.path``, umask, resource limits, priority, blocked signals, signal
  handlers or interval timer, more than :data:`LEAKED_FILES` files left open, modules
  imported from outside the installed libraries (user code) or removed, and resident
  memory grown by more than ``[executor] max_memory_growth_mb`` since the worker started
  (growth, since a fresh fork already counts every page it shares with its zygote). If
  anything is off, or it has run ``tries_per_process`` tries, it says so in the try's log
  and with its ``done`` message, and exits; the zygote kills what is left of its process
  group.

What a reused worker does not undo is state a task changes inside objects that outlive
the try: a global of the DAG file's module, a library's cache, a mutable default of an
operator. Set ``tries_per_process = 1`` for tasks that rely on a fresh process.

Messages (one JSON line each): zygote -> worker ``{"id": <request id>, "workload": ...}``;
worker -> zygote ``{"kind": "ended", "id": ...}`` as soon as the try's result file is written
(the zygote passes the news on), then ``{"kind": "done", "id": ..., "retire": <why, or
null>}`` once it has checked itself. A worker exits at the end of its input (its zygote
retired it, or died).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import resource
import select
import signal
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from millstream.executors.fork_config import (
    EXIT_FLUSH_TIMEOUT_S,
    ForkServerConfig,
    tries_for_a_worker,
)
from millstream.executors.process_tools import JsonLinePipe, exited_child, kill_group
from millstream.executors.wire import worker_request_line
from millstream.parsing.limits import adopt_orphaned_descendants
from millstream.runtime.events import TaskWorkload
from millstream.runtime.events_json import from_dict
from millstream.runtime.worker import run_try_in_this_process

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator
    from millstream.runtime.xcom import XComReader

FindTask = Callable[[TaskWorkload], "BaseOperator"]

_task_log = logging.getLogger("millstream.task")

_LIMITS = tuple(getattr(resource, name) for name in (
    "RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_NOFILE", "RLIMIT_CPU", "RLIMIT_FSIZE",
    "RLIMIT_STACK", "RLIMIT_NPROC", "RLIMIT_CORE") if hasattr(resource, name))

CHECK_WAIT_S = 0.05
"""How long a zygote with a try to hand out waits for a worker checking itself after its
last try, before it forks a new one."""

LEAKED_FILES = 32
"""More files left open than before the first try, past which a worker is replaced."""

try:  # signal.getsignal without its conversion to an enum (an exception per Python handler)
    from _signal import getsignal as _getsignal  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - another interpreter
    _getsignal = signal.getsignal

_WATCHED_SIGNALS = tuple(
    getattr(signal, name) for name in
    ("SIGTERM", "SIGINT", "SIGHUP", "SIGALRM", "SIGCHLD", "SIGPIPE", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)


@functools.cache  # the zygote asks first (prepare_to_fork_workers): every worker inherits it
def _library_folders() -> tuple[str, ...]:
    """Where the interpreter's and the installed packages' modules live (not user code)."""
    folders = {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib",
                                                         "platlib")}
    folders.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # millstream
    return tuple(os.path.join(os.path.realpath(f), "") for f in folders)


_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def _threads_and_resident_mb() -> tuple[int, float]:
    """Threads of this process (native ones included) and its resident memory, from one
    read of /proc/self/stat; elsewhere Python's threads and the peak (a safe overestimate)."""
    try:
        fd = os.open("/proc/self/stat", os.O_RDONLY)
        try:
            data = os.read(fd, 4096)
        finally:
            os.close(fd)
        # Fields after the command name (which may hold spaces): 20th num_threads, 24th rss.
        fields = data.rpartition(b")")[2].split()
        return int(fields[17]), int(fields[21]) * _PAGE_MB
    except (OSError, ValueError, IndexError):
        return (threading.active_count(),
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _children_left() -> bool:
    """Reap the children that have ended; whether any is still running."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _environment() -> dict[Any, Any]:
    """The environment variables as a plain dict: on POSIX the bytes ``os.environ`` keeps
    (comparing them costs no decoding of every name and value), else decoded."""
    data = getattr(os.environ, "_data", None)
    return dict(data) if isinstance(data, dict) else dict(os.environ)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _open_files() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def _limits() -> tuple[object, ...]:
    """Resource limits, scheduling priority and blocked signals: what a try could lower."""
    limits = tuple(map(resource.getrlimit, _LIMITS))
    return (*limits, os.getpriority(os.PRIO_PROCESS, 0),
            frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, [])))


def _modules_mark() -> tuple[int, str | None]:
    """How many modules are imported, and the name imported last.

    An import adds its name at the end of ``sys.modules`` (a dict keeps its order) and a
    removal shortens it, so the mark moves unless a try removed modules and imported as
    many others, the last under the name that was last before. Comparing it costs
    nothing; comparing every name after each try cost more than the rest of the check.
    """
    return len(sys.modules), next(reversed(sys.modules), None)


_MODULES_BEFORE_FORK: tuple[tuple[int, str | None], frozenset[str]] | None = None


def prepare_to_fork_workers() -> None:
    """In a zygote, before it forks workers: what each worker's :class:`Health` would
    otherwise work out anew in its first moments (the library folders, the names of the
    modules imported), each name touched, so copied, in every fork."""
    global _MODULES_BEFORE_FORK
    _library_folders()
    _MODULES_BEFORE_FORK = (_modules_mark(), frozenset(sys.modules))


def _modules_now() -> frozenset[str]:
    """The names in ``sys.modules``: the zygote's set while nothing has changed since."""
    if _MODULES_BEFORE_FORK is not None and _MODULES_BEFORE_FORK[0] == _modules_mark():
        return _MODULES_BEFORE_FORK[1]
    return frozenset(sys.modules)


class Health:
    """How a worker was before its first try; :meth:`problem` says what a try changed."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.threads, self.resident_mb = _threads_and_resident_mb()
        self.cwd = os.getcwd()
        self.environ = _environment()
        self.path = list(sys.path)
        self.umask = _umask()
        self.handlers = {signum: _getsignal(signum) for signum in _WATCHED_SIGNALS}
        self.files = _open_files()
        self.limits = _limits()
        self.modules = _modules_now()
        self.modules_seen = _modules_mark()
        self.libraries = _library_folders()

    def problem(self) -> str | None:
        """Why this worker must not run another try, or None if it may."""
        return next(self._problems(), None)

    def _problems(self) -> Iterator[str]:
        threads, resident_mb = _threads_and_resident_mb()
        if threading.active_count() > 1 or threads > self.threads:
            yield "the try left threads running"
        if _children_left():
            yield "the try left child processes running"
        if (grown := resident_mb - self.resident_mb) > self.memory_mb:
            yield (f"its memory grew by {grown:.0f} MB, more than "
                   f"{self.memory_mb} MB (executor.max_memory_growth_mb)")
        if os.getcwd() != self.cwd:
            yield "the try changed the working folder"
        if _environment() != self.environ:
            yield "the try changed the environment variables"
        if sys.path != self.path:
            yield "the try changed sys.path"
        if _umask() != self.umask:
            yield "the try changed the umask"
        if _limits() != self.limits:
            yield "the try changed resource limits, priority or blocked signals"
        if (files := _open_files()) > self.files + LEAKED_FILES:
            yield f"the try left {files - self.files} more files open"
        if any(_getsignal(s) != h for s, h in self.handlers.items()) \
                or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
            yield "the try changed signal handlers or left an alarm set"
        if (modules := self._changed_modules()) is not None:
            yield modules

    def _changed_modules(self) -> str | None:
        if _modules_mark() == self.modules_seen:
            return None
        now = frozenset(sys.modules)
        if self.modules - now:
            return "the try removed modules from sys.modules"
        for name in now - self.modules:
            path = getattr(sys.modules.get(name), "__file__", None)
            if path and not os.path.realpath(path).startswith(self.libraries):
                return f"the try imported module {name!r} from {path}, outside the libraries"
        self.modules = now  # a library imported on first use is kept: that is the point
        self.modules_seen = _modules_mark()
        return None


class _OnceFactory:
    """The XCom reader factory, called at most once in a worker: its tries share one reader
    (one database engine) instead of each opening connections of its own."""

    def __init__(self, factory: Callable[[], XComReader]) -> None:
        self._factory = factory
        self._reader: XComReader | None = None

    def __call__(self) -> XComReader:
        if self._reader is None:
            self._reader = self._factory()
        return self._reader


def serve_tries(request_id: int, task: BaseOperator, workload: TaskWorkload,
                pipe: JsonLinePipe, config: ForkServerConfig, find_task: FindTask) -> int:
    """The body of a worker: run the first try, then each one the zygote sends; returns
    the exit code. Runs in a fresh fork of the zygote, signals and files already set."""
    adopt_orphaned_descendants()  # whatever a try starts stays ours to see and reap
    health = Health(config.worker_memory_growth_mb)
    reader = _OnceFactory(config.reader_factory)
    tries, most = 0, tries_for_a_worker(config.tries_per_process)
    while True:
        code = run_try_in_this_process(task, workload, config.log_folder, reader,
                                       config.clock)
        if code != 0:  # no result written: the exit status tells the fork server
            return code
        tries += 1
        retire = (f"it ran {tries} tries (executor.tries_per_process)"
                  if tries >= most else None)
        if retire is not None:
            _say_retiring(retire)
        # The result file is written: the try's outcome may go on its way now, while
        # this worker checks itself (the check is not on the path to the next task).
        pipe.send({"kind": "ended", "id": request_id})
        if retire is None and (retire := health.problem()) is not None:
            _say_retiring(retire)
        pipe.send({"kind": "done", "id": request_id, "retire": retire})
        pipe.flush_before_exit(EXIT_FLUSH_TIMEOUT_S)
        if retire is not None:
            return 0
        request = _next_request(pipe)
        if request is None:
            return 0
        request_id, workload = request
        task = find_task(workload)


def _say_retiring(reason: str) -> None:
    """Say in the try's log (which the output still goes to) why this worker stops."""
    _task_log.info("Worker process %d runs no more tries: %s", os.getpid(), reason)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _next_request(pipe: JsonLinePipe) -> tuple[int, TaskWorkload] | None:
    """Wait for the zygote's next request; None at the end of the input."""
    while pipe.read_fd is not None:
        for line in pipe.read_lines():  # one at a time: a busy worker is sent nothing
            data = json.loads(line)
            workload = from_dict(data["workload"])
            if not isinstance(workload, TaskWorkload):
                raise TypeError(f"a worker request holds no workload: {line[:200]!r}")
            return int(data["id"]), workload
        if pipe.read_fd is not None:
            select.select([pipe.read_fd], [], [])
    return None


# -- the zygote's side ---------------------------------------------------------------------------
@dataclass(slots=True)
class Worker:
    """A worker as its zygote sees it."""

    pid: int
    pipe: JsonLinePipe
    request_id: int | None  # the request it runs; None while idle
    idle_since: float = 0.0
    checking: int | None = None  # the request it has ended and checks itself after


class WorkerPool:
    """A zygote's workers: busy ones, and idle ones kept for the next try (last in, first out)."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.by_pid: dict[int, Worker] = {}
        self._idle: list[Worker] = []

    def __bool__(self) -> bool:
        return bool(self.by_pid)

    def fds(self) -> list[int]:
        """The zygote's ends of every worker's pipes (no other process may hold them)."""
        return [fd for w in self.by_pid.values() for fd in (w.pipe.read_fd, w.pipe.write_fd)
                if fd is not None]

    def add(self, worker: Worker) -> None:
        """A worker just forked with its first request."""
        self.by_pid[worker.pid] = worker

    def take_idle(self, wait_s: float = 0.0) -> Worker | None:
        """The most recently idle worker that is still there, if any.

        With ``wait_s``, a worker that has ended its try and is checking itself is waited
        for, that long at most: the check takes well under a millisecond, a new worker's
        fork several."""
        worker = self._take_idle()
        deadline = time.monotonic() + wait_s
        while worker is None:
            checking = [w.pipe.read_fd for w in self.by_pid.values()
                        if w.checking is not None and w.pipe.read_fd is not None]
            left = deadline - time.monotonic()
            if not checking or left <= 0:
                return None
            select.select(checking, [], [], left)
            for candidate in list(self.by_pid.values()):
                if candidate.checking is not None:
                    self.read(candidate)  # a checking worker runs no try: nothing ends
            worker = self._take_idle()
        return worker

    def _take_idle(self) -> Worker | None:
        while self._idle:
            worker = self._idle.pop()
            if worker.pipe.write_fd is not None and exited_child(worker.pid) is None:
                return worker
        return None

    def send(self, worker: Worker, request_id: int, workload_json: bytes) -> None:
        """Hand an idle worker its next request (``workload_json``: the workload's JSON)."""
        worker.request_id = request_id
        worker.pipe.send(worker_request_line(request_id, workload_json))

    def signal(self, request_id: int, signum: int) -> None:
        """Signal the process group of the worker running ``request_id``, if one still is."""
        for worker in self.by_pid.values():
            if worker.request_id == request_id:
                kill_group(worker.pid, signum)

    def read(self, worker: Worker) -> list[tuple[int, int]]:
        """Take in what a worker said: (request id, worker pid) for each try it has ended.

        A worker says ``ended`` once the try's result file is written, then ``done`` after
        checking itself: only then is it idle (or, told to retire, left to exit)."""
        ended: list[tuple[int, int]] = []
        for line in worker.pipe.read_lines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                data = json.loads(line)
                if data["kind"] not in ("ended", "done"):
                    continue
                if data["id"] == worker.request_id:
                    ended.append((int(data["id"]), worker.pid))
                    worker.request_id = None  # a late signal for that try reaches nothing
                    worker.checking = int(data["id"])
                if data["kind"] != "done" or data["id"] != worker.checking:
                    continue
                worker.checking = None
                if data.get("retire"):  # it exits by itself; nothing more goes to it
                    worker.pipe.close_write()
                else:
                    worker.idle_since = time.monotonic()
                    self._idle.append(worker)
        return ended

    def ended(self, pid: int) -> Worker | None:
        """A worker's process has ended: forget it (its last words are read first)."""
        worker = self.by_pid.pop(pid, None)
        if worker is not None:
            with contextlib.suppress(ValueError):
                self._idle.remove(worker)
            worker.pipe.close()
        return worker

    def next_deadline(self) -> float | None:
        """When the longest idle worker is to be retired."""
        return self._idle[0].idle_since + self.idle_s if self._idle else None

    def retire_idle(self, everyone: bool = False) -> None:
        """End the input of workers idle for too long (or of all, ``everyone``): they exit.

        Busy workers lose their input too when ``everyone``: they exit after their try."""
        now = time.monotonic()
        keep = [w for w in self._idle if not everyone and now < w.idle_since + self.idle_s]
        for worker in self._idle:
            if worker not in keep:
                worker.pipe.close_write()
        self._idle = keep
        if everyone:
            for worker in self.by_pid.values():
                worker.pipe.close_write_when_flushed()
