"""The scheduler: ``tick(now)`` moves every active run forward; a loop only repeats it."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from millstream.exceptions import StaleRecordError
from millstream.executors.base import RecordsRemotely, prepare
from millstream.model.intervals import DataInterval, ensure_utc
from millstream.model.states import DagRunState, TaskState
from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload
from millstream.scheduler.after_commit import AfterCommit
from millstream.scheduler.dag_view import DagView
from millstream.scheduler.dispatch import choose_to_queue, claim_for_queue, observed
from millstream.scheduler.events import (
    apply_finished,
    apply_started,
    resumed_workload,
    stop_timed_out_try,
    waiting_for_time,
)
from millstream.scheduler.pending_events import PendingEvents
from millstream.scheduler.readiness import evaluate_dirty, past_dependents
from millstream.scheduler.runs import (
    align_run_with_dag,
    create_run,
    earliest_timeout,
    hold_run,
    pause_after_failures,
    run_end_state,
)
from millstream.scheduler.tick_reads import TickReads
from millstream.store.records import DagRunRecord, TaskInstanceRecord

if TYPE_CHECKING:
    from millstream.executors.base import Executor
    from millstream.scheduler.callbacks import CallbackRunner
    from millstream.store.interfaces import Store
    from millstream.store.outcome_notes import OutcomeNote

log = logging.getLogger("millstream.scheduler")

WAITING_FOR_TIME = (TaskState.UP_FOR_RETRY, TaskState.UP_FOR_RESCHEDULE)
"""States left by the scheduler itself once a moment has come (retry delay, next poke)."""
NOT_STARTED = (TaskState.NONE, TaskState.SCHEDULED, TaskState.UP_FOR_RETRY,
               TaskState.UP_FOR_RESCHEDULE)
STARTED = (TaskState.QUEUED, TaskState.RUNNING, TaskState.DEFERRED)
RUNNING_REFRESH_S = 10.0
"""How often a light poke reads the running runs again (runs another scheduler started)."""
LOCK_RETRY = timedelta(milliseconds=20)
"""How soon to try again when another scheduler held the dispatch lock."""


@dataclass(frozen=True, slots=True)
class TickResult:
    """What a tick did: whether anything changed, and when the next timed event is due."""

    worked: bool
    next_wakeup: datetime | None


class Scheduler:
    """Moves DAG runs forward over a store and an executor, one ``tick(now)`` at a time.

    It reads DAGs only through :class:`DagView` (their stored structures); running a
    task, or a DAG's callback, is the executor's and the callback runner's business.
    """

    def __init__(
        self,
        store: Store,
        executor: Executor,
        dags: Mapping[str, DagView],
        callbacks: CallbackRunner,
        start_batch_delay: timedelta = timedelta(0),
    ) -> None:
        self.store = store
        self.executor = executor
        self.dags: dict[str, DagView] = dict(dags)
        self.paused: set[str] = set()  # DAGs whose runs wait: nothing new starts or is queued
        self.callbacks = callbacks
        self._dirty: dict[tuple[str, str], set[str]] = {}
        self._params: dict[tuple[str, str], dict[str, Any]] = {}
        self._touched: set[tuple[str, str]] = set()  # runs with new outcomes to look at
        # Work found by queries is only looked for when something may have changed it:
        # these flags keep the hot path (one task ends, the next starts) to a few queries.
        self._look_for_queued_runs = True
        self._dispatch_needed = True
        self._retries_changed = True
        self._next_retry_at: datetime | None = None
        self._warned_pools: set[str] = set()
        self._pool_sizes: dict[str, int | None] = {}  # read again after every poke
        # A start waits (start_batch_delay at most) for its try's outcome: one write.
        self._unapplied = PendingEvents(start_batch_delay)
        self._reads = TickReads()
        # The running runs between ticks (None: read again), with those this scheduler
        # starts and ends; read again on a reevaluating poke, and every RUNNING_REFRESH_S.
        self._running: dict[tuple[str, str], DagRunRecord] | None = None
        self._running_read_at = 0.0
        self._next_timeout: datetime | None = None  # the earliest dagrun_timeout moment
        self._lock_busy = False  # another scheduler held the dispatch lock
        # Effects outside the store (starting tries, callbacks, kills) wait for the commit:
        # a rolled-back tick must not have started a try or fired a callback.
        self._after_commit = AfterCommit()
        self._changed_dags: set[str] = set()

    def trigger(
        self,
        dag_id: str,
        logical_date: datetime,
        interval: DataInterval,
        now: datetime,
        conf: dict[str, Any] | None = None,
        run_type: str = "manual",
        run_id: str | None = None,
    ) -> DagRunRecord:
        """Create a queued run of a known DAG; a naive logical date is taken as UTC."""
        dag = self.dags.get(dag_id)
        if dag is None:
            raise KeyError(f"no DAG {dag_id!r} is known to this scheduler")
        logical_date = ensure_utc(logical_date)
        with self.store.transaction():
            run = create_run(self.store, dag, logical_date, interval, now, run_type, conf, run_id)
        self._look_for_queued_runs = True
        return run

    def dag_changed(self, dag_id: str) -> None:
        """A new version of the DAG was loaded: its active runs are brought in line with it."""
        self._changed_dags.add(dag_id)
        self._dispatch_needed = True

    def runs_queued(self) -> None:
        """Runs were created elsewhere in this process: start them on the next tick."""
        self._look_for_queued_runs = True

    @property
    def start_batch_delay(self) -> timedelta:
        """How long a try's start waits for its outcome to share one write."""
        return self._unapplied.delay

    @start_batch_delay.setter
    def start_batch_delay(self, delay: timedelta) -> None:
        self._unapplied.delay = delay

    def take_unapplied(self) -> list[TaskStartedEvent | TaskFinishedEvent]:
        """The executor events drained and not yet applied (held starts): the caller
        records them instead (when the scheduler stops)."""
        return self._unapplied.take_all()

    def poke(self, reevaluate: bool = True) -> None:
        """Something may have changed outside this scheduler (a run triggered, a DAG
        unpaused, a task cleared): look for queued runs, due retries and work to dispatch
        on the next tick, and with ``reevaluate`` every task of every active run again."""
        self._look_for_queued_runs = True
        self._dispatch_needed = True
        self._retries_changed = True
        self._pool_sizes = {}
        if reevaluate or time.monotonic() - self._running_read_at >= RUNNING_REFRESH_S:
            self._running = None
        if reevaluate:
            self._dirty.clear()

    # -- the tick ---------------------------------------------------------------------------
    def tick(self, now: datetime) -> TickResult:
        """Apply executor events, advance runs, queue ready work, and let the executor run it."""
        self._unapplied.add(observed(self.dags, self.executor.drain_events()))
        noted = self._take_notes()
        events = self._unapplied.due(now)
        if not events and not noted and not self._has_work(now):
            return TickResult(self.executor.has_work(), self._next_wakeup(now))
        try:
            worked = self._tick_in_transaction(now, events) or noted
        except StaleRecordError as exc:
            self._after_commit.clear()
            # Another scheduler changed a row this tick read: everything it wrote is rolled
            # back, the executor's events are kept, and the next tick reads afresh.
            log.info("a row changed under this tick (%s); looking again", exc)
            self.poke()
            return TickResult(True, None)
        except Exception:
            self._after_commit.clear()
            self._running = None
            raise
        self._unapplied.applied(events)
        self._run_after_commit()
        self.executor.sync()
        return TickResult(worked or self.executor.has_work(), self._next_wakeup(now))

    def _has_work(self, now: datetime) -> bool:
        """Whether a tick with no events to apply has anything to do."""
        due = [m for m in (self._next_retry_at, self._next_timeout) if m is not None and now >= m]
        return bool(self._look_for_queued_runs or self._dispatch_needed or self._running is None
                    or self._changed_dags or self._retries_changed or due
                    or any(dag_id not in self.paused for dag_id, _ in self._touched))

    def _tick_in_transaction(
        self, now: datetime, events: list[TaskStartedEvent | TaskFinishedEvent]
    ) -> bool:
        with self.store.transaction(), self._reads:
            worked = self._apply(events)
            if self._look_for_queued_runs:
                self._look_for_queued_runs = False
                worked |= self._start_queued_runs(now)
            running = self._running_runs()
            retries = self._due_retries(now)
            timeouts_due = self._next_timeout is not None and now >= self._next_timeout
            # Only runs with something new are looked at: cost per tick follows the work,
            # not the number of running runs or of their finished instances.
            for key, run in list(running.items()):
                if not (key in self._touched or key in retries or key not in self._dirty
                        or run.dag_id in self._changed_dags or timeouts_due):
                    continue
                dag = self.dags.get(run.dag_id)
                if dag is not None and run.dag_id not in self.paused:
                    worked |= self._advance(dag, run, now, retries.get(key, []))
            self._changed_dags.clear()
            if timeouts_due:
                self._next_timeout = earliest_timeout(self.dags, running.values())
            if worked or self._dispatch_needed:
                self._dispatch_needed = False
                worked |= self._dispatch(running)
        return worked

    def _running_runs(self) -> dict[tuple[str, str], DagRunRecord]:
        if self._running is None:
            runs = self.store.runs.list(states=[DagRunState.RUNNING])
            self._running = {(run.dag_id, run.run_id): run for run in runs}
            self._running_read_at = time.monotonic()
            self._next_timeout = earliest_timeout(self.dags, runs)
            for gone in [key for key in self._dirty if key not in self._running]:
                del self._dirty[gone]  # ended or deleted elsewhere
                self._params.pop(gone, None)
            self._touched &= self._running.keys()
        return self._running

    def apply_outcomes(self, events: Iterable[TaskFinishedEvent]) -> None:
        """Apply outcomes found outside the executor (adopted results, vanished tries)."""
        try:
            with self.store.transaction(), self._reads:
                self._apply(observed(self.dags, events))
        except Exception:
            self._after_commit.clear()
            raise
        self._run_after_commit()

    def _run_after_commit(self) -> None:
        self._after_commit.run(self.executor)

    def _take_notes(self) -> bool:
        """Starts and outcomes that remote workers recorded themselves (Celery): what they
        may change is marked to be looked at; True if there were any."""
        if not isinstance(self.executor, RecordsRemotely):
            return False
        missed, notes = self.executor.drain_recorded()
        if missed:
            self.poke()
        for note in notes:
            self.outcome_recorded(note)
        return missed or bool(notes)

    def outcome_recorded(self, note: OutcomeNote) -> None:
        """A worker recorded a try's start or outcome itself: look at what it may change."""
        if note.state in (TaskState.QUEUED.value, TaskState.RUNNING.value):
            return  # a start frees nothing and readies nothing
        self._dispatch_needed = True  # a slot is free
        self._retries_changed |= note.state in {s.value for s in WAITING_FOR_TIME}
        dag = self.dags.get(note.key.dag_id)
        if dag is None:
            return
        run_key = (note.key.dag_id, note.key.run_id)
        dirty = self._dirty.get(run_key)
        if dirty is not None:  # a run not seen yet is looked at whole when first seen
            dirty.update(dag.task_dict if note.changed is None else note.changed)
            self._touched.add(run_key)
        self._wake_later_runs(dag, note.key.run_id, (note.key.task_id,))

    def _apply(self, events: Sequence[TaskStartedEvent | TaskFinishedEvent]) -> bool:
        """Apply a batch of events (in the caller's transaction); True if an outcome was
        among them. A start alone changes nothing to advance or dispatch."""
        # A start and an end of the same try in one batch become one write.
        ended = {(e.key, e.try_number) for e in events if isinstance(e, TaskFinishedEvent)}
        starts = {
            (e.key, e.try_number): e for e in events
            if isinstance(e, TaskStartedEvent) and (e.key, e.try_number) in ended
        }
        reads = self._reads
        read = reads.read(self.store, self.dags,
                          (e for e in events if isinstance(e, TaskFinishedEvent)))
        for event in events:
            dag = self.dags.get(event.key.dag_id)
            folded = isinstance(event, TaskStartedEvent) and (
                (event.key, event.try_number) in starts
            )
            if dag is None or folded:
                continue
            if isinstance(event, TaskFinishedEvent):
                self._dispatch_needed = True  # a slot is free
                self._retries_changed |= event.state in WAITING_FOR_TIME
                run_key = (event.key.dag_id, event.key.run_id)
                self._dirty.setdefault(run_key, set()).update(apply_finished(
                    self.store, dag, event, starts.get((event.key, event.try_number)),
                    self._after_commit, read, wrote=reads.wrote))
                if event.skip_task_ids or not reads.followed(event.key):
                    reads.forget(run_key)  # skips, suspensions and the like are not followed
                self._touched.add(run_key)
                self._wake_later_runs(dag, event.key.run_id, (event.key.task_id,))
            else:
                apply_started(self.store, event)
                reads.forget((event.key.dag_id, event.key.run_id), event.key.task_id)
        return bool(ended)

    def _start_queued_runs(self, now: datetime) -> bool:
        queued = [run for run in self.store.runs.list(states=[DagRunState.QUEUED])
                  if run.dag_id in self.dags and run.dag_id not in self.paused]
        if not queued:
            return False
        # max_active_runs is counted and kept under the dispatch lock, so two schedulers
        # never start more runs between them than a DAG allows.
        if not self._lock_dispatch():
            self._look_for_queued_runs = True
            return False
        running = self._running_runs()
        started = False
        for run in queued:
            dag = self.dags[run.dag_id]
            active = len(self.store.runs.list(run.dag_id, [DagRunState.RUNNING]))
            if active >= dag.max_active_runs:
                continue
            run = self.store.runs.set_state(run, DagRunState.RUNNING, start_date=now)
            prepare(self.executor, dag.fileloc)  # its import overlaps the tasks' evaluation
            key = (run.dag_id, run.run_id)
            running[key] = run
            if dag.dagrun_timeout and (
                self._next_timeout is None or now + dag.dagrun_timeout < self._next_timeout
            ):
                self._next_timeout = now + dag.dagrun_timeout
            self._dirty[key] = set(dag.task_dict)
            self._touched.add(key)  # a run without tasks ends at once
            started = True
        return started

    def _lock_dispatch(self) -> bool:
        """Take the store's dispatch lock for this transaction; if another scheduler holds
        it, say so (the next wake-up comes soon) and let the caller try next tick."""
        if self.store.task_instances.lock_dispatch():
            return True
        self._lock_busy = True
        return False

    def _due_retries(self, now: datetime) -> dict[tuple[str, str], list[TaskInstanceRecord]]:
        """Instances whose retry delay (or a sensor's reschedule date) has passed, by run;
        queried only when one may be due."""
        if not self._retries_changed and (
            self._next_retry_at is None or now < self._next_retry_at
        ):
            return {}
        self._retries_changed = False
        due, self._next_retry_at = waiting_for_time(self.store, WAITING_FOR_TIME, now)
        return due

    def _advance(
        self, dag: DagView, run: DagRunRecord, now: datetime, retries: list[TaskInstanceRecord]
    ) -> bool:
        key = (run.dag_id, run.run_id)
        if key not in self._dirty:  # first sight of this run (e.g. after a restart)
            self._dirty[key] = set(dag.task_dict)
        if run.dag_id in self._changed_dags and align_run_with_dag(self.store, dag, run):
            self._dirty[key] = set(dag.task_dict)
            self._touched.add(key)
            self._reads.forget(key)
        worked = False
        if dag.dagrun_timeout and run.start_date and run.start_date + dag.dagrun_timeout <= now:
            self._time_out(dag, run, now)
            return True
        for ti in retries:
            self._reads.wrote(self.store.task_instances.set_state(ti, TaskState.SCHEDULED))
            worked = True
        dirty = self._dirty[key]
        if not dirty and not worked and key not in self._touched:
            return False
        hold = hold_run(self.store, run, self._reads.held(key))
        if hold.look_again:  # another scheduler holds the run: look at it on a later tick
            self._touched.add(key)
            return worked
        if hold.ended_elsewhere:
            self._forget(key)
            return True
        self._touched.discard(key)
        self._dirty[key] = set()
        # Instances just scheduled, or still waiting, mean the run goes on: no query needed.
        unfinished = worked | (evaluate_dirty(self.store, dag, run, dirty, now,
                                              self._reads.take(key)) if dirty else False)
        state = None if unfinished else run_end_state(self.store, dag, hold.run)
        if state is not None:
            self._finish(dag, hold.run, state, now,
                         "success" if state is DagRunState.SUCCESS else "task_failure")
        return True

    def _time_out(self, dag: DagView, run: DagRunRecord, now: datetime) -> None:
        for ti in self.store.task_instances.for_run(run.dag_id, run.run_id):
            if ti.state in NOT_STARTED:
                self.store.task_instances.set_state(ti, TaskState.SKIPPED, end_date=now)
            elif ti.state in STARTED:
                self.store.task_instances.set_state(ti, TaskState.FAILED, end_date=now,
                                                    error="dagrun_timeout reached")
                self._after_commit.append(functools.partial(stop_timed_out_try,
                                                            self.executor, ti, now))
        log.warning("run %s of DAG %s timed out", run.run_id, dag.dag_id)
        self._finish(dag, run, DagRunState.FAILED, now, "timed_out")

    def _finish(self, dag: DagView, run: DagRunRecord, state: DagRunState, now: datetime,
                reason: str) -> None:
        run = self.store.runs.set_state(run, state, end_date=now)
        self._look_for_queued_runs = True  # a max_active_runs slot is free
        self._forget((run.dag_id, run.run_id))
        # Tasks may also have ended by a skip, a trigger rule or a timeout: wake for all.
        self._wake_later_runs(dag, run.run_id, dag.task_dict)
        self._after_commit.append(functools.partial(
            self.callbacks.dag_run_finished, dag, run, state is DagRunState.SUCCESS, reason
        ))
        if state is DagRunState.FAILED and dag.max_consecutive_failed_dag_runs:
            pause_after_failures(self.store, dag, run)

    def _forget(self, key: tuple[str, str]) -> None:
        """Drop what this scheduler keeps about a run that has ended."""
        if self._running is not None:
            self._running.pop(key, None)
        self._dirty.pop(key, None)
        self._params.pop(key, None)
        self._touched.discard(key)

    def _wake_later_runs(self, dag: DagView, run_id: str, task_ids: Iterable[str]) -> None:
        """depends_on_past: tasks ending in one run may unblock waiting tasks of other runs.

        A waiting task is evaluated only when marked dirty, so the tasks that look at the
        past of ``task_ids`` (themselves, or their upstream with wait_for_downstream) are
        marked dirty in every other active run of the DAG.
        """
        dependents = past_dependents(dag)
        if not dependents:
            return
        woken: set[str] = set()
        for task_id in task_ids:
            woken |= dependents.get(task_id, set())
        if not woken:
            return
        for (dag_id, other_run_id), dirty in self._dirty.items():
            if dag_id == dag.dag_id and other_run_id != run_id:
                dirty |= woken
                self._touched.add((dag_id, other_run_id))

    def _dispatch(self, running: Mapping[tuple[str, str], DagRunRecord]) -> bool:
        open_slots = self.executor.open_slots()
        if open_slots <= 0:
            return False
        active = {key: run for key, run in running.items()
                  if run.state is DagRunState.RUNNING and run.dag_id not in self.paused}
        # Slots in use are counted, and claimed, under the dispatch lock: pools,
        # max_active_tasks and max_active_tis_per_dag hold across schedulers.
        chosen = choose_to_queue(self.store, self.dags, open_slots, active, self._warned_pools,
                                 self._pool_sizes)
        if chosen is None:  # another scheduler holds the dispatch lock
            self._lock_busy = self._dispatch_needed = True
            return False
        for chosen_ti in chosen:
            resuming = chosen_ti.resuming
            ti = claim_for_queue(self.store, chosen_ti)
            if ti is None:
                continue
            run = active[(ti.dag_id, ti.run_id)]
            dag = self.dags[ti.dag_id]
            workload = TaskWorkload(ti.key, ti.try_number, ti.max_tries, run,
                                    self._run_params(dag, run), dag.fileloc,
                                    step_id=ti.step_id)
            if resuming:
                workload = resumed_workload(self.store, ti, workload)
            self._after_commit.workloads.append(workload)
        return bool(chosen)

    def _run_params(self, dag: DagView, run: DagRunRecord) -> dict[str, Any]:
        key = (run.dag_id, run.run_id)
        if key not in self._params:
            self._params[key] = dag.resolve_params(run.conf)
        return self._params[key]

    def _next_wakeup(self, now: datetime) -> datetime | None:
        moments = [m for m in (self._next_retry_at, self._next_timeout) if m is not None]
        if (held := self._unapplied.next_due()) is not None:
            moments.append(held)
        if self._lock_busy:
            self._lock_busy = False
            moments.append(now + LOCK_RETRY)
        return min(moments) if moments else None
