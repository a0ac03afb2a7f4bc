"""The local executor: runs task tries as processes on this machine, through a fork server.

``start()`` starts the fork server (:mod:`millstream.executors.forkserver_process`), a fresh
interpreter when it can be (:mod:`millstream.executors.forkserver_main`); every try then runs
in a worker forked from the zygote that imported its DAG file
(:mod:`millstream.executors.zygote`), which runs up to ``tries_per_process`` tries
(:mod:`millstream.executors.try_worker`), and every DAG callback in a fork of its own
(:mod:`millstream.executors.callback_processes`). Workloads go to the server as JSON lines
(those a scheduler tick submits in one write) and events come back the same way: nothing
here writes the store.

At most ``parallelism`` tries run at once; workloads submitted beyond that wait here, in
order, and go out as soon as a running try reports its end. With ``prefetch`` the executor
takes that many workloads beyond its free slots (as Celery's ``worker_prefetch_multiplier``
does), so a slot freed under load is filled at once, not at the next tick, and ticks apply
batches of events (:mod:`millstream.model.gathering`). Nothing sleeps: the scheduler's loop
can block in :meth:`LocalExecutor.wait_for_events` until the server has something to say.

Reliability:

- A try that crashes, is killed or overruns its timeout becomes a finished event (see
  the fork server); the scheduler and the fork server live on.
- If the fork server itself dies, it is started again; tries it had started keep
  running, are watched by pid (:mod:`millstream.executors.orphans`), and their result
  files are reported when they end.
- If the scheduler dies, the fork server lets the running tries finish and exits; a
  restarted scheduler adopts their outcomes with :func:`read_result_file`.

The XCom reader factory must open its own connections, in the worker (share an engine URL,
not an engine). Call ``start()`` before the scheduler starts threads: the server may fork.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from millstream.executors import forkserver_main, forkserver_process, wire
from millstream.executors.fork_config import (
    SERVER_START_S,
    TRIES_PER_PROCESS,
    WORKER_MEMORY_GROWTH_MB,
    ZYGOTE_IDLE_S,
    ForkServerConfig,
)
from millstream.executors.forkserver_process import ForkServerHandle
from millstream.executors.orphans import InFlightTry, OrphanedTries
from millstream.executors.process_tools import kill_group, kill_pid, reap_child
from millstream.model.gathering import EventGathering
from millstream.model.states import TaskState
from millstream.parsing.processor import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S
from millstream.private_files import make_private_folder
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.worker import read_result_file, result_path, try_log_path, utc_now
from millstream.store.records import TaskInstanceKey

if TYPE_CHECKING:
    from millstream.runtime.xcom import XComReader
    from millstream.store.interfaces import Store

__all__ = ["LocalExecutor", "read_result_file", "result_path", "try_log_path"]

log = logging.getLogger("millstream.executors.local")

KILL_WAIT_S = 5.0
"""How long ``stop(kill=True)`` waits for killed tries to be reported before giving up."""

_READ_SIZE = 1 << 16

Event = TaskStartedEvent | TaskFinishedEvent


class LocalExecutor:
    """Runs up to ``parallelism`` task tries at once, each in a worker process that runs
    at most ``tries_per_process`` of them (1: a fresh process for every try) and is
    replaced sooner when a try leaves it unhealthy or ``worker_memory_growth_mb`` bigger."""

    def __init__(
        self,
        parallelism: int,
        log_folder: str | os.PathLike[str],
        xcom_reader_factory: Callable[[], XComReader],
        clock: Callable[[], datetime] = utc_now,
        *,
        dag_import_timeout: float = DEFAULT_TIMEOUT_S,
        dag_import_memory_mb: int = DEFAULT_MEMORY_MB,
        zygote_idle_s: float = ZYGOTE_IDLE_S,
        tries_per_process: int = TRIES_PER_PROCESS,
        worker_memory_growth_mb: int = WORKER_MEMORY_GROWTH_MB,
        store_factory: Callable[[], Store] | None = None,
        tries_outlive_executor: bool = True,
        prefetch: int = 0,
    ) -> None:
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, got {parallelism}")
        if prefetch < 0:
            raise ValueError(f"prefetch must be at least 0, got {prefetch}")
        self.parallelism = parallelism
        self.prefetch = prefetch
        self._gathering = EventGathering(prefetch)
        self.log_folder = Path(log_folder)
        self._config = ForkServerConfig(self.log_folder, xcom_reader_factory, clock,
                                        dag_import_timeout, dag_import_memory_mb,
                                        zygote_idle_s, tries_per_process, worker_memory_growth_mb,
                                        store_factory=store_factory,
                                        tries_outlive_executor=tries_outlive_executor)
        self._fresh = True  # start the server as a fresh interpreter while that works
        self._clock = clock
        self._server: ForkServerHandle | None = None
        self._stopping = False
        self._waiting: deque[tuple[TaskWorkload, bytes]] = deque()
        self.dropped: list[TaskWorkload] = []  # waiting for a slot when stop() was called
        self._sent: dict[tuple[TaskInstanceKey, int], InFlightTry] = {}
        self._orphans = OrphanedTries(self.log_folder, clock)
        self._outbox = bytearray()
        self._batching = False
        self._inbox = bytearray()
        self._events: list[Event] = []
        self._killed: set[tuple[TaskInstanceKey, int]] = set()  # killed by stop(kill=True)
        self._callbacks: set[int] = set()  # ids of DAG callbacks sent and not yet ended
        self._next_callback_id = 0

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, unless_fresh: bool = False) -> None:
        """Start the fork server (if it is not running). ``unless_fresh``: only one that
        must be forked from this process (its configuration cannot reach a fresh
        interpreter); a fresh one waits for a call without it, or for its first use."""
        if self._server is not None or (unless_fresh and forkserver_main.can_launch(
                self._config) and self._fresh):
            return
        make_private_folder(self.log_folder)
        self._server = handle = forkserver_process.spawn(self._config, self._fresh)
        log.debug("fork server started (pid %d)", handle.pid)
        if handle.fresh:
            self._await_ready(handle)

    def _await_ready(self, handle: ForkServerHandle) -> None:
        """Wait for a fresh server to be warm, so the first try finds it so; one that dies
        before it is replaced by a fork of this process, from then on."""
        if forkserver_main.wait_until_ready(handle.from_server, SERVER_START_S):
            return
        self._server = None
        forkserver_process.release(handle)
        log.error("the fork server (pid %d) %s while it started; forking it from this "
                  "process instead", handle.pid, reap_child(handle.pid))
        self._fresh = False
        self.start()

    def stop(self, timeout: float = 30.0, kill: bool = False) -> None:
        """Stop taking work and wait up to ``timeout`` seconds for running tries to end.

        Workloads not yet handed to a process are dropped and kept in ``dropped``, for the
        caller to give back. Tries still running after ``timeout`` are killed with their process
        groups when ``kill`` is true; otherwise they are left to finish on their own (the fork
        server stays until they have, and exits) and their outcomes are found later with
        :func:`read_result_file`. Events that arrive while stopping can still be drained.
        """
        self.dropped = [workload for workload, _ in self._waiting]
        self._waiting.clear()
        handle = self._server
        if handle is None:
            self._orphans.forget()
            return
        self._stopping = True
        try:
            if kill:  # a callback has no result to wait for: it goes at once
                self.kill_callbacks()
            deadline = time.monotonic() + max(timeout, 0.0)
            self._write_until(deadline)
            self._outbox.clear()
            forkserver_process.close_to_server(handle)  # end of input: the server winds down
            self._read_until_server_exits(deadline)
            if self._server is not None and kill:
                self._kill_running(handle)
            if self._server is not None:  # tries are left running: they finish on their own
                log.info("leaving %d running tries to finish after the executor stopped",
                         len(self._sent))
                self._detach_server(handle)
            self._sent.clear()
            self._callbacks.clear()
            self._orphans.forget()
        finally:
            self._stopping = False
            self._killed.clear()

    def _kill_running(self, handle: ForkServerHandle) -> None:
        kill_deadline = time.monotonic() + KILL_WAIT_S
        while self._server is not None and time.monotonic() < kill_deadline:
            # Tries whose start is reported only now are killed on the next round.
            for sent_key, running in self._sent.items():
                if running.pid is not None and sent_key not in self._killed:
                    kill_group(running.pid, signal.SIGKILL)
                    self._killed.add(sent_key)
            left = kill_deadline - time.monotonic()
            if left > 0:
                select.select([self._server.from_server], [], [], left)
            self._read()
        if self._server is not None:
            log.error("fork server (pid %d) did not exit; killing it", handle.pid)
            kill_pid(handle.pid, signal.SIGKILL)
            self._read_until_server_exits(time.monotonic() + KILL_WAIT_S)

    @property
    def tries_per_process(self) -> int:
        """How many tries a worker process runs before it is replaced."""
        return self._config.tries_per_process

    @property
    def fork_server_pid(self) -> int | None:
        """The fork server's process id while it runs."""
        return self._server.pid if self._server is not None else None

    def __enter__(self) -> LocalExecutor:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop(timeout=5.0, kill=True)

    # -- the Executor protocol --------------------------------------------------------------
    def open_slots(self) -> int:
        """``parallelism`` and ``prefetch`` minus the tries submitted and not yet finished."""
        busy = len(self._sent) + len(self._waiting) + len(self._orphans)
        return max(0, self.parallelism + self.prefetch - busy)

    def submit(self, workload: TaskWorkload) -> None:
        """Accept a workload; it starts at once if a slot is free (inside :meth:`batched`,
        when the batch ends), in a process forked from the zygote of ``workload.dag_file``."""
        dag_file = workload.dag_file
        if not dag_file:
            self._reject(workload, f"no DAG file is known for task {workload.key.task_id!r} "
                                   f"of DAG {workload.key.dag_id!r}, so no process can load it")
            return
        try:
            line = wire.workload_line(workload)
        except TypeError as exc:
            self._reject(workload, f"the workload cannot be sent to a worker process: {exc}")
            return
        if self._server is None:
            self.start()
        self._waiting.append((workload, line))
        self._send_waiting()
        self._write()

    def prepare(self, dag_file: str) -> None:
        """Have the fork server start the zygote of ``dag_file`` now, so the file is
        imported while the scheduler readies a run's first tries, not after they are sent."""
        if self._server is not None:
            self._outbox += wire.prepare_line(dag_file)
            self._write()

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Workloads submitted inside go to the fork server in one write, at the end."""
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            self._write()

    def sync(self) -> None:
        """Send what is waiting to be sent and collect the events that have arrived."""
        self._write()
        self._read()

    def drain_events(self) -> list[Event]:
        """Events since the last call, oldest first (a try's start before its end)."""
        self._read()
        events, self._events = self._events, []
        self._gathering.forget()
        return events

    def has_work(self) -> bool:
        """Whether any try is waiting, running, or has events not yet drained."""
        return bool(self._waiting or self._sent or self._orphans or self._events)

    # -- beyond the protocol ----------------------------------------------------------------
    def wait_for_events(self, timeout: float, wakeup_fd: int | None = None) -> bool:
        """Block until events can be drained, ``timeout`` seconds have passed or
        ``wakeup_fd`` is readable (the caller has other work); True if events are ready.
        With prefetched workloads waiting, events are held a moment for more to join them
        (see :class:`~millstream.model.gathering.EventGathering`)."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            self._write()
            self._read()
            now = time.monotonic()
            until = self._gathering.wait_until(now, deadline, bool(self._events),
                                               len(self._waiting))
            if until is None:
                return True
            left = until - now
            if left <= 0:
                return False
            poller = select.poll()
            if self._server is not None:
                poller.register(self._server.from_server, select.POLLIN)
                if self._outbox:
                    poller.register(self._server.to_server, select.POLLOUT)
            for fd in (*self._orphans.fds(), *([] if wakeup_fd is None else [wakeup_fd])):
                poller.register(fd, select.POLLIN)
            if self._server is None and not len(self._orphans) and wakeup_fd is None:
                time.sleep(left)
                continue
            if any(fd == wakeup_fd for fd, _ in poller.poll(math.ceil(left * 1000))):
                return bool(self._events)

    def running_pids(self) -> dict[TaskInstanceKey, int]:
        """The process id of each running try (the leader of its process group)."""
        self._read()  # take in the starts reported so far (their events stay to be drained)
        pids = {key: t.pid for (key, _), t in self._sent.items() if t.pid is not None}
        for running in self._orphans:
            if running.pid is not None:
                pids[running.workload.key] = running.pid
        return pids

    def in_flight(self) -> set[TaskInstanceKey]:
        """Every task instance with a try accepted here and not yet reported finished.

        Unlike :meth:`running_pids` this includes tries waiting for a slot (prefetched),
        tries not reported started yet, and tries whose end is read but not yet drained: none
        may be handed out again, nor have its result file adopted ahead of its own event."""
        self._read()
        keys = {workload.key for workload, _ in self._waiting}
        keys.update(key for key, _ in self._sent)
        keys.update(running.workload.key for running in self._orphans)
        keys.update(event.key for event in self._events)
        return keys

    def terminate(self, key: TaskInstanceKey) -> None:
        """Stop the try of ``key``: its whole process group gets SIGTERM, then SIGKILL.

        A workload still waiting for a slot is dropped without an event. A running try
        is reported finished (failed or up_for_retry) when it has gone; the scheduler
        ignores that outcome if it has moved the task on (cleared, run timed out).
        """
        kept = deque(item for item in self._waiting if item[0].key != key)
        self._waiting = kept
        for (sent_key, try_number), _ in self._sent.items():
            if sent_key == key:
                self._outbox += wire.terminate_line(key, try_number)
        self._write()
        for running in self._orphans:
            if running.workload.key == key and running.pid is not None:
                kill_group(running.pid, signal.SIGKILL)

    # -- DAG callbacks ----------------------------------------------------------------------
    def run_callback(self, request: wire.CallbackRequest) -> int:
        """Have a DAG callback run in a process forked from its DAG file's zygote.

        ``request.callback_id`` is replaced by a fresh id, which is returned.
        """
        self._next_callback_id += 1
        request = dataclasses.replace(request, callback_id=self._next_callback_id)
        if self._server is None:
            self.start()
        self._callbacks.add(request.callback_id)
        self._outbox += wire.callback_line(request)
        self._write()
        return request.callback_id

    def callbacks_running(self) -> int:
        """How many DAG callbacks were sent and have not been reported ended."""
        self._read()
        return len(self._callbacks)

    def kill_callbacks(self) -> None:
        """Kill every DAG callback still running (their ends are still reported)."""
        if self._callbacks:
            self._outbox += wire.KILL_CALLBACKS_LINE
            self._write()

    # -- sending ----------------------------------------------------------------------------
    def _reject(self, workload: TaskWorkload, error: str) -> None:
        now = self._clock()
        log.error("cannot run %s: %s", workload.key, error)
        self._events.append(TaskFinishedEvent(workload.key, workload.try_number,
                                              TaskState.FAILED, now, now, error,
                                              step_id=workload.step_id))

    def _send_waiting(self) -> None:
        while self._waiting and len(self._sent) + len(self._orphans) < self.parallelism:
            workload, line = self._waiting.popleft()
            self._sent[(workload.key, workload.try_number)] = InFlightTry(workload)
            self._outbox += line

    def _write(self) -> None:
        handle = self._server
        while self._outbox and handle is not None and not self._batching:
            try:
                written = os.write(handle.to_server, self._outbox)
            except BlockingIOError:
                return
            except OSError:  # the server is gone; reading its end-of-file handles that
                self._outbox.clear()
                return
            del self._outbox[:written]

    def _write_until(self, deadline: float) -> None:
        while self._outbox and self._server is not None:
            self._write()
            left = deadline - time.monotonic()
            if not self._outbox or left <= 0:
                return
            select.select([], [self._server.to_server], [], left)

    # -- receiving --------------------------------------------------------------------------
    def _read(self) -> None:
        handle = self._server
        while handle is not None and handle is self._server:
            try:
                chunk = os.read(handle.from_server, _READ_SIZE)
            except BlockingIOError:
                break
            if not chunk:
                self._server_exited(handle)
                break
            self._inbox += chunk
            self._parse_lines()
            if len(chunk) < _READ_SIZE:
                break
        if len(self._orphans) and (ended := self._orphans.check()):
            self._events.extend(ended)
            self._send_waiting()
            self._write()

    def _parse_lines(self) -> None:
        while (end := self._inbox.find(b"\n")) >= 0:
            line = bytes(self._inbox[:end])
            del self._inbox[: end + 1]
            try:
                event = wire.server_message(line)
            except (ValueError, KeyError, TypeError) as exc:
                log.error("ignoring a malformed message from the fork server: %s", exc)
                continue
            if isinstance(event, int):
                self._callbacks.discard(event)
            elif isinstance(event, TaskStartedEvent):
                running = self._sent.get((event.key, event.try_number))
                if running is not None:
                    running.pid = event.pid
                self._events.append(event)
            elif isinstance(event, TaskFinishedEvent):
                self._sent.pop((event.key, event.try_number), None)
                if (event.key, event.try_number) in self._killed and event.error:
                    event = dataclasses.replace(
                        event, error=f"killed because the executor was stopping: {event.error}"
                    )
                self._events.append(event)
                self._send_waiting()
        if self._outbox:
            self._write()

    def _read_until_server_exits(self, deadline: float) -> None:
        while self._server is not None:
            self._read()
            left = deadline - time.monotonic()
            if self._server is None or left <= 0:
                return
            select.select([self._server.from_server], [], [], left)

    # -- when the fork server ends --------------------------------------------------------------
    def _server_exited(self, handle: ForkServerHandle) -> None:
        self._server = None
        forkserver_process.release(handle)
        self._inbox.clear()
        self._outbox.clear()
        status = reap_child(handle.pid)
        if self._stopping:
            return
        log.error("the fork server (pid %d) %s; starting a new one", handle.pid, status)
        self._callbacks.clear()  # they died with their zygotes
        self._events.extend(self._orphans.take_over(list(self._sent.values())))
        self._sent.clear()
        self.start()
        self._send_waiting()
        self._write()

    def _detach_server(self, handle: ForkServerHandle) -> None:
        """Stop talking to a server that still runs tries; reap it whenever it exits."""
        self._server = None
        forkserver_process.release(handle)
        self._inbox.clear()
        threading.Thread(target=reap_child, args=(handle.pid,), daemon=True,
                         name=f"millstream-reap-{handle.pid}").start()
