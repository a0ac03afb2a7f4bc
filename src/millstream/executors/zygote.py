"""A zygote: a child of the fork server that imports one DAG file and forks that file's tries.

The fork server never imports users' code. For each DAG file (each version of it) it
forks a zygote, which imports the file under the parser's caps: its address space may
grow by at most ``dag_import_memory_mb`` (``RLIMIT_AS``, lifted again once the import is
done, so tries are not bound by it), and the fork server kills it (its whole process
group) if the import runs past ``dag_import_timeout``. A file that fails, hangs or eats
memory costs its zygote, never the fork server.

Once the file is imported the zygote says ``ready`` and serves requests (see
:mod:`millstream.executors.wire`). A DAG callback gets a process of its own. A task try
goes to a worker (:mod:`millstream.executors.try_worker`): an idle one of this file, or
a new fork that runs this try and, with ``tries_per_process`` above 1, later ones; with
``tries_per_process = 1`` every try is a fork of its own. Each try or callback runs in a
session of its own (:mod:`millstream.executors.try_processes`). The zygote reports the
pid that runs each request, when a worker is done with a try (``ran``) and each pid's
wait status (``exited``); the fork server does the rest (timeouts, results, events). It
signals a worker's process group on the fork server's behalf (``signal``), since only
the zygote knows which try the worker runs at that moment. When its input ends the
zygote starts nothing more, ends its idle workers' input and exits once its processes
have ended. It dies with the fork server (``PR_SET_PDEATHSIG``); its running tries live
on.
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
import sys
import time
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any, NoReturn

from millstream import observability
from millstream.authoring.templating import template_environment
from millstream.executors.fork_config import EXIT_FLUSH_TIMEOUT_S, ForkServerConfig
from millstream.executors.process_tools import (
    JsonLinePipe,
    drain_wakeups,
    exited_child,
    kill_group,
    seconds,
    serve_signals,
)
from millstream.executors.try_worker import (
    CHECK_WAIT_S,
    Worker,
    WorkerPool,
    prepare_to_fork_workers,
    serve_tries,
)
from millstream.executors.wire import CallbackRequest, workload_json_of
from millstream.parsing.limits import cap_memory, die_with_parent, restore_memory_limit
from millstream.parsing.loader import DagImportError, load_dag_file
from millstream.runtime.dag_callbacks import call_dag_run_callbacks, call_sla_miss_callback
from millstream.runtime.events import TaskWorkload
from millstream.runtime.events_json import MessageFormatError, from_dict
from millstream.runtime.worker import run_try_in_this_process

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.authoring.task import BaseOperator

log = logging.getLogger("millstream.executors.zygote")


class _Refused(Exception):
    """A request this zygote cannot fork (its DAG or task is not in the file)."""


def _workload(raw: Any) -> TaskWorkload:
    """The workload a try request holds (raises MessageFormatError, _Refused)."""
    workload = from_dict(raw)
    if not isinstance(workload, TaskWorkload):
        raise _Refused("the request holds no workload")
    return workload


def run_zygote(path: str, read_fd: int, write_fd: int, config: ForkServerConfig,
               not_ours: list[int]) -> NoReturn:
    """The body of a freshly forked zygote; never returns."""
    code = 70
    try:
        signal.set_wakeup_fd(-1)  # the fork server's wakeup pipe is about to be closed
        for fd in not_ours:  # the fork server's pipes: only it may hold them
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)  # its own group: a kill also reaches what the import started
        die_with_parent()
        code = _Zygote(path, read_fd, write_fd, config).serve()
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        os._exit(code)


def import_failure(path: str, memory_mb: int) -> tuple[dict[str, DAG] | None, str | None]:
    """Import ``path`` under the memory cap: its DAGs, or why they cannot be had."""
    owner = os.getpid()
    previous = cap_memory(memory_mb)
    too_big = (f"DAG file {path} exceeded {memory_mb} MB of memory while it was imported "
               "(the [scheduler] file_parse_memory_mb cap)")
    try:
        return load_dag_file(path), None
    except DagImportError as exc:
        if isinstance(exc.__cause__, MemoryError):
            return None, f"{too_big}: {exc.summary}"
        return None, f"DAG file {path} failed to import: {exc.summary}\n{exc.message}"
    except MemoryError:
        return None, too_big
    finally:
        if os.getpid() != owner:
            os._exit(0)  # a fork the DAG file made at import: it must not act as the zygote
        restore_memory_limit(previous)


class _Zygote:
    def __init__(self, path: str, read_fd: int, write_fd: int,
                 config: ForkServerConfig) -> None:
        self.path = path
        self.config = config
        self.pipe = JsonLinePipe(read_fd, write_fd, batched=True)
        self.children: set[int] = set()
        self.reports: dict[int, int] = {}  # a callback's pid -> the pipe it reports on
        self.dags: dict[str, DAG] = {}
        self.wake_read, self.wake_write = os.pipe()
        self.workers = WorkerPool(config.worker_idle_s)
        self.requests: deque[bytes] = deque()  # read and not yet handled
        self.forks = 0

    def serve(self) -> int:
        self._install_signals()
        dags, failure = import_failure(self.path, self.config.dag_import_memory_mb)
        if dags is None:
            self.pipe.send({"kind": "failed", "error": failure})
            self.pipe.flush_before_exit(EXIT_FLUSH_TIMEOUT_S)
            return 0
        self.dags = dags
        for dag in dags.values():
            # Built once here, the DAG's template environment is inherited by every try.
            with contextlib.suppress(Exception):
                template_environment(dag)
        prepare_to_fork_workers()
        gc.freeze()  # the imported DAGs are never collected here: less copying per try
        self.pipe.send({"kind": "ready"})
        while self.pipe.read_fd is not None or self.requests or self.children or self.workers:
            self._step()
        self.pipe.flush_before_exit(EXIT_FLUSH_TIMEOUT_S)
        return 0

    def _install_signals(self) -> None:
        serve_signals(self.wake_read, self.wake_write)  # the scheduler decides when we stop

    def _step(self) -> None:
        self.pipe.flush()  # what the last round said, in one write
        poller = select.poll()
        poller.register(self.wake_read, select.POLLIN)
        if self.pipe.read_fd is not None:
            poller.register(self.pipe.read_fd, select.POLLIN)
        if self.pipe.wants_write and self.pipe.write_fd is not None:
            poller.register(self.pipe.write_fd, select.POLLOUT)
        for worker in self.workers.by_pid.values():
            if worker.pipe.read_fd is not None:
                poller.register(worker.pipe.read_fd, select.POLLIN)
            if worker.pipe.wants_write and worker.pipe.write_fd is not None:
                poller.register(worker.pipe.write_fd, select.POLLOUT)
        deadline = time.monotonic() if self.requests else self.workers.next_deadline()
        # Only the pipes poll() found ready are read (not every worker's each time round),
        # and children are looked for only after a SIGCHLD wrote to the wakeup pipe.
        ready = {fd for fd, _ in poller.poll(
            -1 if deadline is None
            else max(0, math.ceil((deadline - time.monotonic()) * 1000)))}
        signalled = self.wake_read in ready and drain_wakeups(self.wake_read)
        self.pipe.flush()
        for worker in list(self.workers.by_pid.values()):
            worker.pipe.flush()
            if worker.pipe.read_fd in ready:
                self._read_worker(worker)
        if self.pipe.read_fd in ready:
            self.requests.extend(self.pipe.read_lines())
        self._handle_requests()
        if self.pipe.read_fd is None and not self.requests:  # retired: idle workers may go
            self.workers.retire_idle(everyone=True)
        else:
            self.workers.retire_idle()
        if signalled:
            self._reap()

    def _handle_requests(self) -> None:
        """Handle requests up to the first that forks. A batch of requests that each fork
        (the first tries of a fan) would otherwise keep the first worker's pid and end
        from the fork server until the last fork of the batch: they go out in between."""
        forks = self.forks
        while self.requests and self.forks == forks:
            self._handle(self.requests.popleft())

    def _read_worker(self, worker: Worker) -> None:
        for request_id, pid in self.workers.read(worker):
            self.pipe.send(b'{"kind":"ran","id":%d,"pid":%d}' % (request_id, pid))

    def _handle(self, line: bytes) -> None:
        request_id = -1
        try:
            data = json.loads(line)
            request_id = int(data["id"])
            if data["kind"] == "signal":
                self.workers.signal(request_id, int(data["signal"]))
                return
            if data["kind"] == "try":
                # The fork server has read the workload whole; here only its task is
                # looked up, and an idle worker gets the workload's text as it came.
                raw = data["workload"]
                if not isinstance(raw, dict) or raw.get("kind") != "workload":
                    raise _Refused("the request holds no workload")
                task = self._task_named(raw["key"]["dag_id"], raw["key"]["task_id"])
                timeout = seconds(getattr(task, "execution_timeout", None))
                if self.config.reuses_workers:
                    pid = self._to_worker(request_id, task, raw,
                                          workload_json_of(request_id, line, data))
                    self.pipe.send(b'{"kind":"forked","id":%d,"pid":%d,"timeout":%s}' % (
                        request_id, pid, json.dumps(timeout).encode()))
                    return
                workload = _workload(raw)
                pid = self._fork(lambda: self._become_try(task, workload))
            elif data["kind"] == "callback":
                request = CallbackRequest.from_dict(data["callback"])
                dag = self.dags.get(request.dag_id)
                if dag is None:
                    raise _Refused(f"DAG {request.dag_id!r} is no longer in {self.path}: "
                                   "its callback cannot run")
                timeout = request.timeout_s
                pid = self._fork_callback(dag, request)
            else:
                raise _Refused(f"unknown request {data['kind']!r}")
        except (_Refused, MessageFormatError, ValueError, KeyError, TypeError) as exc:
            self.pipe.send({"kind": "refused", "id": request_id, "error": str(exc)})
            return
        self.children.add(pid)
        self.pipe.send({"kind": "forked", "id": request_id, "pid": pid, "timeout": timeout})

    def _task_for(self, workload: TaskWorkload) -> BaseOperator:
        return self._task_named(workload.key.dag_id, workload.key.task_id)

    def _task_named(self, dag_id: str, task_id: str) -> BaseOperator:
        dag = self.dags.get(dag_id)
        if dag is None:
            defined = ", ".join(sorted(self.dags)) or "none"
            raise _Refused(f"DAG {dag_id!r} is not defined in {self.path} "
                           f"(it defines: {defined})")
        task = dag.task_dict.get(task_id)
        if task is None:
            raise _Refused(f"DAG {dag_id!r} in {self.path} has no task {task_id!r}")
        return task

    def _to_worker(self, request_id: int, task: BaseOperator, raw: dict[str, Any],
                   workload_json: bytes) -> int:
        """Hand a try to an idle worker, or fork a new one that starts with it; its pid.

        ``raw``: the workload decoded from JSON; ``workload_json``: its text."""
        worker = self.workers.take_idle(wait_s=CHECK_WAIT_S)
        if worker is not None:
            self.workers.send(worker, request_id, workload_json)
            return worker.pid
        workload = _workload(raw)
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        try:
            pid = self._fork(lambda: serve_tries(
                request_id, task, workload, JsonLinePipe(to_read, from_write), self.config,
                self._task_for), close=(to_write, from_read))
        finally:
            os.close(to_read)
            os.close(from_write)
        self.workers.add(Worker(pid, JsonLinePipe(from_read, to_write), request_id))
        return pid

    def _fork(self, become: Any, close: tuple[int, ...] = ()) -> int:
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            with contextlib.suppress(Exception):
                stream.flush()
        self.forks += 1
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                os.setsid()  # a session and process group of its own, killed as one
                signal.set_wakeup_fd(-1)
                self.pipe.close()
                os.close(self.wake_read)
                os.close(self.wake_write)
                # Only the zygote may hold the workers' pipes: a worker sees the end of
                # its input when the zygote closes it, whoever else was forked since.
                for fd in (*close, *self.workers.fds(), *self.reports.values()):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGALRM, signal.SIGHUP):
                    signal.signal(signum, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                code = become()
            except BaseException:
                with contextlib.suppress(BaseException):
                    traceback.print_exc()
            finally:
                os._exit(code)
        return pid

    def _become_try(self, task: BaseOperator, workload: TaskWorkload) -> int:
        return run_try_in_this_process(task, workload, self.config.log_folder,
                                       self.config.reader_factory, self.config.clock)

    def _fork_callback(self, dag: DAG, request: CallbackRequest) -> int:
        """Fork a callback's process, with a pipe on which it reports what it counted."""
        read_fd, write_fd = os.pipe()
        try:
            pid = self._fork(lambda: self._become_callback(dag, request, write_fd),
                             close=(read_fd,))
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.reports[pid] = read_fd
        return pid

    @staticmethod
    def _become_callback(dag: DAG, request: CallbackRequest, report_fd: int) -> int:
        # What it counts (callbacks that raised, figures from millstream.metrics) goes back
        # to the scheduler with its end, as a try's do with its outcome.
        observability.start_callback(dag.dag_id, request.run.run_type if request.run else "")
        try:
            if request.event == "sla_miss":
                call_sla_miss_callback(dag, request.misses)
            elif request.run is not None:
                call_dag_run_callbacks(dag, request.run, request.event == "success",
                                       request.reason)
        finally:
            report = json.dumps({"metrics": observability.end_callback()}) + "\n"
            os.set_blocking(report_fd, False)  # beyond the pipe's buffer it is lost, whole
            with contextlib.suppress(OSError):
                os.write(report_fd, report.encode())
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        return 0

    def _read_report(self, pid: int) -> list[str]:
        """What a callback's process reported before it ended (nothing if it was killed)."""
        read_fd = self.reports.pop(pid, None)
        if read_fd is None:
            return []
        data = b""
        with contextlib.suppress(OSError):  # EAGAIN: a process it started holds the pipe
            while chunk := os.read(read_fd, 65536):
                data += chunk
        os.close(read_fd)
        try:
            metrics = json.loads(data.decode())["metrics"]
        except (ValueError, KeyError, TypeError):
            return []
        return [str(text) for text in metrics] if isinstance(metrics, list) else []

    def _reap(self) -> None:
        while (pid := exited_child()) is not None:
            worker = self.workers.by_pid.get(pid)
            if worker is not None:
                self._read_worker(worker)  # what it said before it went
            if pid in self.children or worker is not None:
                # Its zombie still holds the group id: the group cannot be another's.
                kill_group(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            if pid in self.children:
                self.children.discard(pid)
                message = {"kind": "exited", "pid": pid, "status": status}
                if pid in self.reports:
                    message["metrics"] = self._read_report(pid)
                self.pipe.send(message)
            elif worker is not None:
                self.workers.ended(pid)
                if worker.request_id is not None:  # it ended with its try
                    self.pipe.send({"kind": "exited", "pid": pid, "status": status})
