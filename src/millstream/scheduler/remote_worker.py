"""What a ``millstream worker`` does with one try message: check, start, run, heartbeat, record.

A worker runs tries exactly as the local executor does, through a
:class:`~millstream.executors.local.LocalExecutor` of its own: a fork server started
before any thread, one process per try forked from the zygote of its DAG file, the
try's log file and result file under the worker's log folder, ``execution_timeout``
enforced by killing the try's process group. Celery's threads call :meth:`RemoteTries.run`,
one per message; a driver thread owns the local executor (woken by new work and by the
tries' events), and a heartbeat thread keeps the database informed.

Every write names the try's number and step (:mod:`millstream.store.sql.remote_tries`):

1. start: ``queued -> running`` with this worker's hostname, or the message is refused
   (a second delivery, or a try given up meanwhile) and nothing runs. The schedulers are
   not told: a start frees nothing and readies nothing;
2. heartbeats: while the try runs, with its process id; an instance that moved on
   (cleared, marked, timed out) has its try killed;
3. outcome: recorded with the row locked, as the scheduler records a local try's
   (:func:`~millstream.scheduler.events.apply_finished`, with the DAG structure the try
   started with and its process id), and a note sent to the schedulers (``NOTIFY``). A
   database that is away is waited for: the outcome is kept and recorded when it returns.

A try costs the worker two transactions: the start (three statements) and the outcome
(four: lock, instance, try history, note).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from millstream import observability
from millstream.executors.fork_config import TRIES_PER_PROCESS
from millstream.executors.local import LocalExecutor
from millstream.executors.sql_factories import SqlStoreFactory, SqlXComReaderFactory
from millstream.model.states import TaskState
from millstream.parsing.serialize import DagStructure
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.runtime.worker import lost_try_event, utc_now
from millstream.scheduler.events import apply_finished, resumed_workload
from millstream.store.current import set_store_factory
from millstream.store.outcome_notes import OutcomeNote
from millstream.store.sql.engine import DatabaseError, describe_database_error, make_engine
from millstream.store.sql.notify import notify_outcome
from millstream.store.sql.remote_tries import TryRef, heartbeat_tries, lock_try, start_try
from millstream.store.sql.store import SqlStore

if TYPE_CHECKING:
    from millstream.executors.celery_app import TryMessage
    from millstream.store.records import TaskInstanceKey

log = logging.getLogger("millstream.worker")

WORKER_JOB = "worker"
"""The job type under which workers heartbeat in the jobs table."""
DRIVER_POLL_S = 1.0
"""The longest the driver sleeps while tries run: their events and new work wake it."""
DRIVER_ERROR_PAUSE_S = 0.01
RECORD_RETRY_MAX_S = 5.0

Event = TaskStartedEvent | TaskFinishedEvent
T = TypeVar("T")
_STOP = object()


class _Refused(Exception):
    """The try cannot run here: its start is rolled back."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """One worker's settings."""

    database_url: str
    log_folder: Path
    hostname: str
    concurrency: int
    heartbeat_interval_s: float = 5.0
    dag_import_timeout_s: float = 30.0
    dag_import_memory_mb: int = 1024
    tries_per_process: int = TRIES_PER_PROCESS
    max_memory_growth_mb: int = 512


class RemoteTries:
    """The tries of one worker: call :meth:`start` before any thread, then :meth:`run` per
    message from any thread, and :meth:`stop` at the end."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        url = config.database_url
        # Plain factories: they reach a fork server started as a fresh interpreter.
        self._store_factory = SqlStoreFactory(url)
        self.local = LocalExecutor(config.concurrency, config.log_folder,
                                   SqlXComReaderFactory(url),
                                   dag_import_timeout=config.dag_import_timeout_s,
                                   dag_import_memory_mb=config.dag_import_memory_mb,
                                   tries_per_process=config.tries_per_process,
                                   worker_memory_growth_mb=config.max_memory_growth_mb,
                                   store_factory=self._store_factory,
                                   # killed with the worker: no one here would record them
                                   tries_outlive_executor=False)
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._waiters: dict[tuple[TaskInstanceKey, int], queue.SimpleQueue[Event]] = {}
        self._running: dict[TaskInstanceKey, TryRef] = {}
        self._pids: dict[TaskInstanceKey, int] = {}  # of running tries, for the heartbeats
        self._running_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stores = threading.local()
        self._engine: Any = None
        self._structures: dict[tuple[str, str], DagStructure] = {}
        self._wake_read = self._wake_write = -1  # a pipe: new work wakes the driver

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the fork server (before any thread or connection), then the threads."""
        # Tries read variables, connections and other runs through this factory.
        set_store_factory(self._store_factory)
        self.config.log_folder.mkdir(parents=True, exist_ok=True)
        self.local.start()
        self._wake_read, self._wake_write = os.pipe()  # after the fork server: not its
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        for target, name in ((self._drive, "millstream-worker-driver"),
                             (self._heartbeat, "millstream-worker-heartbeat")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the threads and the local executor (tries still running are killed)."""
        self._stop.set()
        self._put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self.local.stop(timeout=timeout, kill=True)
        for fd in (self._wake_read, self._wake_write):
            if fd >= 0:
                os.close(fd)
        self._wake_read = self._wake_write = -1

    def _put(self, item: object) -> None:
        """Give the driver ``item`` and wake it."""
        self._inbox.put(item)
        if self._wake_write >= 0:
            with contextlib.suppress(OSError):  # full: the driver is awake anyway
                os.write(self._wake_write, b"\0")

    def _store(self) -> SqlStore:
        store: SqlStore | None = getattr(self._stores, "store", None)
        if store is None:
            with self._running_lock:
                if self._engine is None:
                    # One engine for every thread. No ping before each transaction (a
                    # round trip per transaction, two per try): a connection that died
                    # with the database fails its first statement, which discards every
                    # pooled connection as old, and the write is tried again on a new one
                    # (_until_done; a heartbeat at its next beat).
                    self._engine = make_engine(self.config.database_url, pool_pre_ping=False)
            store = SqlStore(self._engine)
            self._stores.store = store
        return store

    def _until_done(self, what: str, work: Callable[[SqlStore], T]) -> T:
        """``work`` in a transaction, again and again while the database is away."""
        delay = 0.5
        while True:
            store = self._store()
            try:
                with store.transaction():
                    return work(store)
            except DatabaseError as exc:
                log.warning("could not %s (%s); trying again in %g s", what,
                            describe_database_error(exc), delay)
                store.close()
                time.sleep(delay)
                delay = min(delay * 2, RECORD_RETRY_MAX_S)

    # -- one message ------------------------------------------------------------------------
    def run(self, message: TryMessage) -> str:
        """Run the try ``message`` names if it is still queued; returns what happened."""
        ref = message.ref
        claimed = self._claim(ref)
        if claimed is None:
            return "refused"
        workload, dag = claimed
        with self._running_lock:
            self._running[ref.key] = ref
        try:
            event = self._execute(workload)
        finally:
            with self._running_lock:
                self._running.pop(ref.key, None)
                pid = self._pids.pop(ref.key, None)
        recorded = self._record(ref, dag, event, pid)
        if recorded:  # this worker recorded the outcome, so it counts the try
            observability.task_event(None, event)
        return event.state.value if recorded else "not recorded"

    def _claim(self, ref: TryRef) -> tuple[TaskWorkload, DagStructure] | None:
        try:
            return self._until_done(f"start {ref.describe()}",
                                    lambda store: self._claim_in(store, ref))
        except _Refused:
            return None

    def _claim_in(self, store: SqlStore, ref: TryRef) -> tuple[TaskWorkload, DagStructure]:
        ti = start_try(store, ref, self.config.hostname, utc_now())
        if ti is None:
            now = store.task_instances.get(ref.key)
            if now is not None and (now.try_number, now.step_id, now.state) == (
                    ref.try_number, ref.step_id, TaskState.RUNNING):
                log.info("refusing %s: another worker started it", ref.describe())
            else:
                now_at = "gone" if now is None else (
                    f"{now.state.value}, try {now.try_number}, step {now.step_id}")
                log.info("refusing %s: the instance is %s", ref.describe(), now_at)
            raise _Refused
        run = store.runs.get(ref.key.dag_id, ref.key.run_id)
        dag = self._dag(store, ref.key.dag_id)
        if run is None or dag is None:
            log.error("refusing %s: its run or DAG is not in the database", ref.describe())
            raise _Refused  # the start is rolled back
        workload = TaskWorkload(ti.key, ref.try_number, ti.max_tries, run,
                                dag.resolve_params(run.conf), dag.fileloc,
                                step_id=ref.step_id)
        if ti.resuming:
            workload = resumed_workload(store, ti, workload)
        log.info("running %s", ref.describe())
        return workload, dag

    def _dag(self, store: SqlStore, dag_id: str) -> DagStructure | None:
        record = store.dags.get(dag_id)
        if record is None or record.latest_version is None:
            return None
        cache_key = (dag_id, record.latest_version)
        with self._running_lock:
            dag = self._structures.get(cache_key)
        if dag is None:
            text = store.dags.structure(dag_id)
            if text is None:
                return None
            dag = DagStructure.from_json_text(text)
            with self._running_lock:
                self._structures[cache_key] = dag
        return dag

    def _execute(self, workload: TaskWorkload) -> TaskFinishedEvent:
        events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._put((workload, events))
        while True:
            event = events.get()
            if isinstance(event, TaskFinishedEvent):
                return event
            if event.pid is not None:  # written by the next heartbeat, or with the outcome
                with self._running_lock:
                    self._pids[workload.key] = event.pid

    def _record(self, ref: TryRef, dag: DagStructure, event: TaskFinishedEvent,
                pid: int | None) -> bool:
        """Record the outcome (waiting for the database if it is away); False if the
        instance had moved on and the outcome was not wanted."""
        recorded = self._until_done(f"record the outcome of {ref.describe()}",
                                    lambda store: self._record_in(store, ref, dag, event, pid))
        if recorded:
            log.info("%s ended %s", ref.describe(), event.state.value)
        return recorded

    def _record_in(self, store: SqlStore, ref: TryRef, dag: DagStructure,
                   event: TaskFinishedEvent, pid: int | None) -> bool:
        ti = lock_try(store, ref)
        if ti is None:
            log.info("not recording the outcome of %s: the instance moved on", ref.describe())
            return False
        # The structure the try started with: its retries and downstream tasks.
        changed = apply_finished(store, dag, event, current=ti, pid=pid)
        notify_outcome(store, OutcomeNote(ref.key, ref.try_number, event.state.value,
                                          tuple(sorted(changed))))
        return True

    # -- the driver thread: the only one that touches the local executor --------------------
    def _drive(self) -> None:
        while True:
            try:
                if not self._drive_once():
                    return
            except Exception:  # a bug here must not leave every waiting try hanging
                log.exception("the worker's driver failed; carrying on")
                time.sleep(DRIVER_ERROR_PAUSE_S)

    def _drive_once(self) -> bool:
        """Take new work, hand out events, wait for either; False once told to stop."""
        item: object | None
        with contextlib.suppress(BlockingIOError):  # the wake-ups of the items taken below
            while os.read(self._wake_read, 4096):
                pass
        try:  # with nothing running there is nothing to wait for but new work
            item = self._inbox.get_nowait() if self.local.has_work() else self._inbox.get()
        except queue.Empty:
            item = None
        while item is not None:
            if item is _STOP:
                return False
            self._take(item)
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                item = None
        for event in self.local.drain_events():
            waiter = self._waiters.get((event.key, event.try_number))
            if isinstance(event, TaskFinishedEvent):
                self._waiters.pop((event.key, event.try_number), None)
            if waiter is not None:
                waiter.put(event)
        if self.local.has_work():
            self.local.wait_for_events(DRIVER_POLL_S, wakeup_fd=self._wake_read)
        return True

    def _take(self, item: object) -> None:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], TaskWorkload):
            workload, events = item
            self._waiters[(workload.key, workload.try_number)] = events
            try:
                self.local.submit(workload)
            except Exception as exc:  # the try cannot start here: it ends, as a lost try
                log.exception("could not start try %d of %s", workload.try_number,
                              workload.key)
                del self._waiters[(workload.key, workload.try_number)]
                now = utc_now()
                events.put(lost_try_event(workload, now, now,
                                          f"the worker could not start the try: {exc}"))
        elif isinstance(item, TryRef) and (item.key, item.try_number) in self._waiters:
            # a try no longer wanted
            log.warning("killing %s: the instance moved on", item.describe())
            self.local.terminate(item.key)

    # -- the heartbeat thread ---------------------------------------------------------------
    def _heartbeat(self) -> None:
        while not self._stop.wait(self.config.heartbeat_interval_s):
            with self._running_lock:
                refs = [(ref, self._pids.get(key)) for key, ref in self._running.items()]
            now = utc_now()
            store = self._store()
            try:
                with store.transaction():
                    gone = heartbeat_tries(store, refs, now)
                    store.jobs.heartbeat(WORKER_JOB, self.config.hostname, os.getpid(), now)
            except Exception as exc:
                log.warning("could not heartbeat (the database may be away): %s", exc)
                store.close()
                continue
            for ref in gone:
                with self._running_lock:
                    still = self._running.get(ref.key) == ref
                if still:  # not a try that just ended and was recorded
                    self._put(ref)


__all__ = ["WORKER_JOB", "RemoteTries", "WorkerConfig"]
