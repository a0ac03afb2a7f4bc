"""The triggerer process: take triggers from the store, run them, and record how they end.

``tick(now)`` does one round against the store: record the outcomes of triggers that
ended (resuming or failing their tasks), fail deferrals past their timeout, drop triggers
nobody waits on, heartbeat, take free or abandoned triggers up to the capacity, and tell
the runner which to run; hourly, it removes expired task state store keys, and if it
leads, it runs the asset watchers (see asset_watch.py). ``run()`` repeats it, waking
early when a trigger ends.

Every trigger row names the triggerer running it and that triggerer's latest heartbeat.
A triggerer that stops cleanly gives its triggers back; one that was killed leaves them
to be taken once its heartbeat is older than ``stale_after`` — at once by a triggerer on
the same host, which can see that the process is gone. A restarted triggerer thus builds
every trigger again from the store: nothing is lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from millstream import observability
from millstream.exceptions import StaleRecordError
from millstream.processes import process_exists
from millstream.triggerer.asset_watch import AssetWatchRunner, WatchSource, is_watch_leader
from millstream.triggerer.loop import TriggerRunner
from millstream.triggerer.outcomes import TriggerOutcome, apply_outcome, expire_deferrals

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.triggerer")

JOB_TYPE = "triggerer"
ERROR_BACKOFF_S = 1.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TriggererTimings:
    """How often the triggerer looks at the store, and when a triggerer counts as gone."""

    poll_interval: timedelta = timedelta(seconds=1)  # new triggers, timeouts
    heartbeat_interval: timedelta = timedelta(seconds=5)
    stale_after: timedelta = timedelta(seconds=30)  # a heartbeat older: its triggers are free
    purge_interval: timedelta = timedelta(hours=1)  # expired task state store keys removed


class TriggererJob:
    """One triggerer over a store: up to ``capacity`` triggers at once on one event loop."""

    def __init__(
        self,
        store: Store,
        capacity: int = 1000,
        timings: TriggererTimings | None = None,
        runner: TriggerRunner | None = None,
        clock: Callable[[], datetime] = utcnow,
        triggerer_id: str | None = None,
        watch_source: WatchSource | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"triggerer capacity must be at least 1, got {capacity}")
        self.store = store
        self.capacity = capacity
        self.timings = timings or TriggererTimings()
        self.runner = runner or TriggerRunner()
        self.clock = clock
        self.hostname = socket.gethostname()
        self.pid = os.getpid()
        self.triggerer_id = triggerer_id or f"{self.hostname}:{self.pid}"
        self._next_heartbeat: datetime | None = None
        self._next_purge: datetime | None = None
        self._unrecorded: list[TriggerOutcome] = []
        # Asset watchers (event-driven scheduling): run by one triggerer, see asset_watch.
        self.watch_source = watch_source
        self.watchers = AssetWatchRunner() if watch_source is not None else None

    # -- one round ---------------------------------------------------------------------------
    def tick(self, now: datetime) -> int:
        """One round against the store; returns how many triggers this triggerer runs."""
        self._record_outcomes()
        with self.store.transaction():
            expire_deferrals(self.store, now)
            self.store.triggers.clean_unused()
        if self._next_heartbeat is None or now >= self._next_heartbeat:
            self._heartbeat(now)
            self._next_heartbeat = now + self.timings.heartbeat_interval
        if self._next_purge is None or now >= self._next_purge:
            with self.store.transaction():
                purged = self.store.state_stores.purge_expired(now)
            if purged:
                log.info("removed %d expired task state store key(s)", purged)
            self._next_purge = now + self.timings.purge_interval
        with self.store.transaction():
            owned = self.store.triggers.assign(self.triggerer_id, self.capacity, now,
                                               now - self.timings.stale_after)
        self.runner.update({trigger.id: trigger for trigger in owned})
        observability.triggers_running(len(owned))
        if self.watchers is not None:
            self._watch(now)
        return len(owned)

    def _watch(self, now: datetime) -> None:
        """Record the watchers' events, then run the watchers if this triggerer leads."""
        assert self.watchers is not None and self.watch_source is not None
        with self.store.transaction():
            self.watchers.record_events(self.store, now)
            leads = is_watch_leader(self.store, self.hostname, self.pid, JOB_TYPE,
                                    now - self.timings.stale_after)
            wanted = self.watch_source(self.store) if leads else {}
        self.watchers.update(wanted, now)

    def _record_outcomes(self) -> None:
        outcomes = self._unrecorded + self.runner.drain()
        self._unrecorded = []
        if not outcomes:
            return
        try:
            with self.store.transaction():
                for outcome in outcomes:
                    apply_outcome(self.store, outcome)
        except Exception:
            # Kept for the next round: the tasks must still hear how their trigger ended.
            self._unrecorded = outcomes
            raise

    def _heartbeat(self, now: datetime) -> None:
        with self.store.transaction():
            self.store.triggers.heartbeat(self.triggerer_id, now)
            self.store.jobs.heartbeat(JOB_TYPE, self.hostname, self.pid, now)
            for owner in self.store.triggers.owners():
                if self._is_gone(owner):
                    released = self.store.triggers.release(owner)
                    log.info("triggerer %s is gone: its %d trigger(s) are free", owner,
                             released)

    def _is_gone(self, owner: str) -> bool:
        """Whether ``owner`` is a triggerer process of this host that no longer exists."""
        host, _, pid = owner.rpartition(":")
        if host != self.hostname or not pid.isdigit() or owner == self.triggerer_id:
            return False
        return not process_exists(int(pid))

    # -- the loop ----------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None,
            until: Callable[[], bool] | None = None) -> None:
        """Run triggers until ``stop`` is set (or ``until()`` is true), then give them back."""
        stop = stop or threading.Event()
        self.runner.start()
        log.info("triggerer %s running (capacity %d)", self.triggerer_id, self.capacity)
        try:
            while not stop.is_set() and not (until is not None and until()):
                try:
                    self.tick(self.clock())
                except StaleRecordError as exc:
                    log.info("a row changed under this round (%s); looking again", exc)
                    stop.wait(0.05)
                    continue
                except Exception:
                    # A lost database connection or a locked SQLite file: try again soon.
                    log.exception("triggerer round failed; trying again in %s s",
                                  ERROR_BACKOFF_S)
                    stop.wait(ERROR_BACKOFF_S)
                    continue
                self.runner.wait(self.timings.poll_interval.total_seconds())
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop the runner, record what already ended, and give the other triggers back."""
        self.runner.stop()
        if self.watchers is not None:
            self.watchers.stop()
        try:
            self._record_outcomes()
            with self.store.transaction():
                self.store.triggers.release(self.triggerer_id)
        except Exception:
            log.exception("could not give the triggers back; they are freed once this "
                          "triggerer's heartbeat is stale")
