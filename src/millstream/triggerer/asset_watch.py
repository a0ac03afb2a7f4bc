"""Asset watchers on the triggerer: each watcher's trigger runs, and each event it fires
is an update (an event) of its asset, which schedules the DAGs scheduled on the asset.

The triggerer job asks its watch source which watchers exist (the assets of the active,
unpaused DAGs' schedules), runs their triggers on a runner of their own, records an asset
event ``{"from_trigger": True, "payload": <the event's payload>}`` for each event, and
starts the trigger again to wait for the next one. A trigger that fails is logged and
started again after ``RETRY_AFTER``. Only one triggerer runs the watchers: the live one
first by host and pid (see :func:`is_watch_leader`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from millstream.store.trigger_records import TriggerRecord
from millstream.triggerer.loop import TriggerRunner
from millstream.triggerer.serde import encode

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

log = logging.getLogger("millstream.triggerer")

RETRY_AFTER = timedelta(seconds=30)
"""How long a watcher whose trigger failed waits before it is started again."""


@dataclass(frozen=True, slots=True)
class WatchSpec:
    """One watcher of one asset: its trigger's import path and stored kwargs."""

    asset_uri: str
    name: str
    classpath: str
    kwargs: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.asset_uri}\x00{self.name}"


WatchSource = Callable[["Store"], Mapping[str, WatchSpec]]
"""What the triggerer asks, in a transaction, for the watchers that should run (by key)."""


def is_watch_leader(store: Store, hostname: str, pid: int, job_type: str,
                    since: datetime) -> bool:
    """Whether this process is the triggerer that runs the watchers: the first, by host
    and pid, of those whose heartbeat is at ``since`` or later (itself included)."""
    alive = [(job.hostname, job.pid) for job in store.jobs.alive(job_type, since)]
    return not alive or min([*alive, (hostname, pid)]) == (hostname, pid)


class AssetWatchRunner:
    """Runs watchers' triggers and turns their events into asset events."""

    def __init__(self, runner: TriggerRunner | None = None) -> None:
        self.runner = runner or TriggerRunner()
        self._ids = itertools.count(1)
        self._current: dict[str, int] = {}  # watcher key -> id of its running trigger
        self._specs: dict[int, WatchSpec] = {}  # trigger id -> its watcher
        self._resting: dict[str, datetime] = {}  # watcher key -> when to start again
        self._started = False

    def update(self, wanted: Mapping[str, WatchSpec], now: datetime) -> None:
        """Run exactly the ``wanted`` watchers (a changed trigger starts afresh)."""
        if not self._started:
            self.runner.start()
            self._started = True
        for key in list(self._current):
            old = self._specs[self._current[key]]
            if key not in wanted or wanted[key] != old:
                del self._specs[self._current.pop(key)]
        for key in list(self._resting):
            if key not in wanted:
                del self._resting[key]
        for key, spec in wanted.items():
            if key in self._current or self._resting.get(key, now) > now:
                continue
            self._resting.pop(key, None)
            trigger_id = next(self._ids)
            self._current[key] = trigger_id
            self._specs[trigger_id] = spec
        self.runner.update({
            trigger_id: TriggerRecord(trigger_id, spec.classpath, spec.kwargs, now)
            for trigger_id, spec in self._specs.items()
        })

    def record_events(self, store: Store, now: datetime) -> int:
        """Record an asset event for each watcher event since the last call (in the
        caller's transaction); returns how many."""
        recorded = 0
        for outcome in self.runner.drain():
            spec = self._specs.pop(outcome.trigger_id, None)
            if spec is None:
                continue  # stopped meanwhile
            if self._current.get(spec.key) == outcome.trigger_id:
                del self._current[spec.key]  # the next update starts it again
            if outcome.error is not None:
                log.warning("asset watcher %s of %s failed (%s); starting it again in %s",
                            spec.name, spec.asset_uri, outcome.error, RETRY_AFTER)
                self._resting[spec.key] = now + RETRY_AFTER
                continue
            payload = encode(outcome.payload, f"event of asset watcher {spec.name}")
            store.assets.record_event(spec.asset_uri, now,
                                      extra={"from_trigger": True, "payload": payload})
            log.info("asset watcher %s: %s updated", spec.name, spec.asset_uri)
            recorded += 1
        return recorded

    def stop(self) -> None:
        """Stop every watcher's trigger."""
        if self._started:
            self.runner.stop()
            self._started = False
        self._current.clear()
        self._specs.clear()

    def running(self) -> set[str]:
        """Keys of the watchers running now."""
        return set(self._current)


__all__ = ["RETRY_AFTER", "AssetWatchRunner", "WatchSource", "WatchSpec", "is_watch_leader"]
