"""When a scheduler waiting for executor events stops waiting: the policy of batched ticks.

Every tick costs about the same whatever it applies (a transaction, the dispatch read,
the executor's write), so under load it pays to apply several tries' ends in one tick.
That is safe only while the executor is kept busy without the scheduler: while it holds
prefetched workloads, each slot that frees is filled from them at once. So the first event
ends the wait unless more than a quarter of the prefetch still waits for a slot; then the
events wait up to ``hold_s`` for others to join them. Without prefetch nothing is held, and
a chain's handoff is never delayed (nothing waits behind its one running try).
"""

from __future__ import annotations

from dataclasses import dataclass

HOLD_S = 0.005
"""The longest an event waits for others (it wakes the scheduler after that)."""


@dataclass
class EventGathering:
    """Decides, from moment to moment, whether the wait for events is over."""

    prefetch: int
    hold_s: float = HOLD_S
    _since: float | None = None

    def wait_until(self, now: float, deadline: float, events_ready: bool,
                   waiting: int) -> float | None:
        """The moment to wait until (``deadline`` at the latest), or None if the wait is
        over: events are ready and few workloads wait, or they have been held long enough.

        ``now`` and ``deadline`` are monotonic seconds; ``waiting``: the workloads the
        executor holds for a slot.
        """
        if not events_ready:
            self._since = None
            return deadline
        if not self.prefetch:  # the scheduler alone fills slots: it must hear at once
            return None
        if self._since is None:
            self._since = now
        until = min(deadline, self._since + self.hold_s)
        if waiting <= self.prefetch // 4 or now >= until:
            self._since = None
            return None
        return until

    def forget(self) -> None:
        """The events were taken (a tick drained them): the next one starts a new batch."""
        self._since = None


__all__ = ["HOLD_S", "EventGathering"]
