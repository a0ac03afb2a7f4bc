"""The scheduler process: parse DAGs, create due runs, tick, watch liveness, sleep until needed.

``step(now)`` does one round and says how long nothing needs doing; ``run()`` repeats it,
sleeping on the executor's event pipe so a finished task wakes the scheduler at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from millstream import observability
from millstream.exceptions import ConflictError, StaleRecordError
from millstream.model.states import DagRunState
from millstream.parsing.serialize import DagStructure
from millstream.runtime.dag_callbacks import SlaMiss
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.scheduler.assets import AssetScheduling
from millstream.scheduler.due_runs import create_runs_of_due_dags
from millstream.scheduler.events import apply_started
from millstream.scheduler.liveness import (
    ResultReader,
    TryStarted,
    check_liveness,
    give_back_unstarted,
)
from millstream.scheduler.loop import Scheduler
from millstream.scheduler.sla import find_sla_misses
from millstream.triggerer.outcomes import expire_deferrals

if TYPE_CHECKING:
    from millstream.executors.base import Executor
    from millstream.scheduler.callbacks import CallbackRunner
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.scheduler")


ERROR_BACKOFF_S = 1.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobTimings:
    """How often the scheduler does its periodic work."""

    parse_interval: timedelta = timedelta(seconds=30)
    schedule_interval: timedelta = timedelta(seconds=1)  # due runs, pauses, triggered runs
    heartbeat_interval: timedelta = timedelta(seconds=5)
    zombie_timeout: timedelta = timedelta(seconds=30)
    # How long a try's start may wait for its outcome to share a transaction (see Scheduler)
    start_batch_delay: timedelta = timedelta(milliseconds=200)


class SchedulerJob:
    """One scheduler: a :class:`Scheduler` over a store and an executor, plus periodic work.

    ``refresh_dags(store, now)`` parses the DAG folder into the store (structures, import
    errors); this job then schedules from the stored structures, never from user code.
    """

    def __init__(
        self,
        store: Store,
        executor: Executor,
        refresh_dags: Callable[[Store, datetime], None],
        read_result: ResultReader,
        callbacks: CallbackRunner,
        timings: JobTimings | None = None,
        clock: Callable[[], datetime] = utcnow,
        try_started: TryStarted | None = None,
        max_runs_per_tick: int | None = None,
        dags_to_run: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        # Called when DAGs that may run are known (the executor gets ready for them).
        self.dags_to_run = dags_to_run
        self.executor = executor
        self.refresh = refresh_dags
        self.read_result = read_result
        self.try_started = try_started
        self.timings = timings or JobTimings()
        self.clock = clock
        self.max_runs_per_tick = max_runs_per_tick  # scheduled runs created per round
        self._resume_after: str | None = None  # the DAG the cap last stopped at
        self._next_due: datetime | None = None  # when the next DAG becomes due, if known
        # The scheduler never runs user code: in production, callbacks go to processes
        # forked from their DAG file's zygote (ForkedCallbackRunner).
        callbacks = observability.observed_callbacks(callbacks)  # run ends counted
        self.scheduler = Scheduler(store, executor, {}, callbacks,
                                   start_batch_delay=self.timings.start_batch_delay)
        self.hostname = socket.gethostname()
        self._structures: dict[str, DagStructure] = {}
        self._next_parse: datetime | None = None
        self._next_schedule: datetime | None = None
        self._next_liveness: datetime | None = None
        self._sla_reported: set[tuple[str, str, str]] = set()
        self._last_signal: int | None = None
        self.assets = AssetScheduling()  # runs of DAGs scheduled on assets

    # -- periodic work ---------------------------------------------------------------------
    def load_dags(self) -> None:
        """Bring the scheduler's view of DAGs (structures, paused flags) up to the store's."""
        with self.store.transaction():
            records = self.store.dags.list(active_only=False)
            paused = {r.dag_id for r in records if r.is_paused or not r.is_active}
            for record in records:
                known = self._structures.get(record.dag_id)
                if record.latest_version is None or (
                    known is not None and known.version == record.latest_version
                ):
                    continue
                text = self.store.dags.structure(record.dag_id)
                if text is None:
                    continue
                self._structures[record.dag_id] = DagStructure.from_json_text(text)
                if known is not None:
                    self.scheduler.dag_changed(record.dag_id)
        self.scheduler.dags = dict(self._structures)
        self.scheduler.paused = paused
        if self.dags_to_run is not None and not paused.issuperset(self._structures):
            self.dags_to_run()

    def _changed_elsewhere(self) -> bool:
        """Whether the change signal moved since the last look: something outside this
        scheduler (a user, a triggerer, an operator) changed runs or task instances."""
        with self.store.transaction():
            current = self.store.signals.current()
        moved = current != self._last_signal
        self._last_signal = current
        return moved

    def create_runs(self, now: datetime) -> int:
        """Create the scheduled and asset-triggered runs due for every active, unpaused DAG.

        Only the DAGs whose next due moment has come are looked at (see due_runs.py). At
        most ``max_runs_per_tick`` scheduled runs per round; when the cap stops a round, the
        next one follows on the next step (not a schedule interval later), starting with
        the DAG after the one the cap stopped at, so one long catchup starves no other DAG.
        The moment the next DAG becomes due is read too: a round begins then, not up to a
        schedule interval later.
        """
        self.assets.register(self.store, self._structures, now)
        self._next_due = None  # unknown until a round succeeds
        with self.store.transaction():
            done = create_runs_of_due_dags(self.store, self._structures, self.scheduler.paused,
                                           now, self.max_runs_per_tick, self._resume_after)
            created = done.created + len(self.assets.create_runs(
                self.store, self._structures, self.scheduler.paused, now))
            next_due = self.store.dags.next_due_after(now)
        self._resume_after = done.stopped_at
        self._next_due = next_due
        if created:
            self.scheduler.runs_queued()
        return created

    def _create_more_runs(self, now: datetime) -> bool:
        """Continue a round of run creation the cap stopped, or begin one when a DAG's due
        moment has come between schedule intervals; True if it created any."""
        due = self._next_due is not None and now >= self._next_due
        if self._resume_after is None and not due:
            return False
        return bool(self._shared(self.create_runs, now))

    def report_sla_misses(self, now: datetime) -> None:
        """Send each new SLA miss to its DAG's sla_miss_callback (in a worker process)."""
        with self.store.transaction():
            misses = find_sla_misses(self.store, self._structures, now, self._sla_reported)
        by_dag: dict[str, list[SlaMiss]] = {}
        for miss in misses:
            by_dag.setdefault(miss.dag_id, []).append(miss)
        for dag_id, found in by_dag.items():
            log.warning("DAG %s missed its SLA for %s", dag_id,
                        ", ".join(f"{m.task_id} ({m.run_id})" for m in found))
            self.scheduler.callbacks.sla_missed(self._structures[dag_id], found)

    def expire_deferrals(self, now: datetime) -> int:
        """Fail deferred tasks past their deferral's timeout, as the triggerer does.

        A deferral must end on time even while no triggerer runs; whichever process comes
        first does it, and the other's attempt is a lost race that changes nothing.
        """
        with self.store.transaction():
            return expire_deferrals(self.store, now)

    def heartbeat(self, now: datetime) -> None:
        """Record that this scheduler is alive (the web server's health check reads it)."""
        with self.store.transaction():
            self.store.jobs.heartbeat("scheduler", self.hostname, os.getpid(), now)
            observability.database_figures(self.store)

    def watch_liveness(self, now: datetime) -> None:
        """Heartbeat running tries; apply outcomes of tries that ended unseen or vanished."""
        running = self.executor.running_pids()
        with self.store.transaction():
            outcomes = check_liveness(self.store, running, self.executor.in_flight(),
                                      self.hostname, now,
                                      self.timings.zombie_timeout, self.read_result,
                                      self.try_started)
        if outcomes:
            self.scheduler.apply_outcomes(outcomes)

    # -- the loop --------------------------------------------------------------------------
    def step(self, now: datetime) -> float:
        """One round of work; returns the seconds until something timed is due.

        The caller sleeps that long on the executor's events, which end the sleep early.
        """
        busy = False
        if self._next_parse is None or now >= self._next_parse:
            self._shared(self.refresh, self.store, now)
            self._next_parse = now + self.timings.parse_interval
            self._next_schedule = None
        if self._next_schedule is None or now >= self._next_schedule:
            self.load_dags()
            # Runs triggered elsewhere are found by a light poke; tasks cleared, marked or
            # resumed elsewhere (every such writer raises the change signal) need every
            # run looked at again.
            self.scheduler.poke(reevaluate=self._changed_elsewhere())
            busy |= bool(self._shared(self.create_runs, now))
            self._shared(self.report_sla_misses, now)
            self._shared(self.expire_deferrals, now)
            self.scheduler.callbacks.reap()
            self._next_schedule = now + self.timings.schedule_interval
        else:
            busy |= self._create_more_runs(now)
        if self._next_liveness is None or now >= self._next_liveness:
            self._shared(self.heartbeat, now)
            self._shared(self.watch_liveness, now)
            self._next_liveness = now + self.timings.heartbeat_interval
        result = self.scheduler.tick(now)
        observability.executor_slots(self.executor)
        if busy:
            return 0.0
        # Everything a tick can do it has done; only new executor events or a timed
        # moment make another tick worth it, and wait_for_events returns on the former.
        moments = [self._next_parse, self._next_schedule, self._next_liveness, self._next_due]
        if result.next_wakeup is not None:
            moments.append(result.next_wakeup)
        soonest = min(m for m in moments if m is not None)
        return max(0.0, (soonest - now).total_seconds())

    @staticmethod
    def _shared(work: Callable[..., Any], *args: Any) -> Any:
        """Periodic work that another scheduler may be doing at the same moment: a collision
        rolls this attempt back, and the next round (or the other scheduler) does it."""
        try:
            return work(*args)
        except (StaleRecordError, ConflictError) as exc:
            log.info("another scheduler got there first (%s); trying again later", exc)
            return None

    def run(
        self,
        stop: threading.Event | None = None,
        until: Callable[[], bool] | None = None,
    ) -> None:
        """Repeat :meth:`step` until ``stop`` is set or ``until()`` is true."""
        stop = stop or threading.Event()
        failures = 0
        while not stop.is_set() and not (until is not None and until()):
            try:
                wait = observability.timed_tick(self.step, self.clock())
            except Exception as exc:
                # A lost database connection, a locked SQLite file, a bug in one DAG's
                # structure: log it, and try again from the store's state in a moment.
                # The traceback once; a failure that repeats (a database outage) in a line.
                failures += 1
                if failures == 1:
                    log.exception("scheduler step failed; trying again in %s s",
                                  ERROR_BACKOFF_S)
                else:
                    log.warning("scheduler step failed again (%d in a row): %s",
                                failures, " ".join(str(exc).split())[:300])
                self.scheduler.poke()
                stop.wait(ERROR_BACKOFF_S)
                continue
            if failures:
                log.warning("scheduler steps succeed again after %d failure(s)", failures)
                failures = 0
            if wait > 0:
                self.executor.wait_for_events(min(wait, 1.0))

    def record_final_events(self) -> None:
        """Record what the executor reported and no tick applied: after it has stopped,
        the starts and ends of the tries it waited for, so the store is left current."""
        started: list[TaskStartedEvent] = []
        finished: list[TaskFinishedEvent] = []
        for event in [*self.scheduler.take_unapplied(), *self.executor.drain_events()]:
            if isinstance(event, TaskFinishedEvent):
                finished.append(event)
            else:
                started.append(event)
        if started:
            with self.store.transaction():
                for event in started:
                    apply_started(self.store, event)
        if finished:
            self.scheduler.apply_outcomes(finished)

    def give_back(self, workloads: Sequence[TaskWorkload]) -> None:
        """Tries the executor dropped unstarted as it stopped (``LocalExecutor.dropped``):
        scheduled again now, not after the zombie timeout of the next start."""
        if workloads:
            with self.store.transaction():
                given = give_back_unstarted(self.store, workloads)
            log.info("gave back %d queued tries that had not started", given)

    def active_runs(self) -> int:
        """How many runs are queued or running (for callers that wait for a quiet store)."""
        with self.store.transaction():
            return len(self.store.runs.list(states=[DagRunState.QUEUED, DagRunState.RUNNING]))
