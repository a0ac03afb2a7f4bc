"""Executor events drained and not yet applied, and which of them a tick applies.

A try's start changes nothing the scheduler acts on (no slot freed, nothing made ready),
so a start waits, ``delay`` at most, for its own try's outcome: a short try's start and
end are then one write of its task instance instead of two. Outcomes are applied at
once, each with its try's start if that is still waiting; a start whose try has not
ended goes on waiting while other outcomes are applied, until ``delay`` has passed since
it arrived. Events are kept until their transaction commits: a rolled-back tick loses
none.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent

Event = TaskStartedEvent | TaskFinishedEvent


class PendingEvents:
    """The events waiting to be applied, oldest first, and when each waiting start came."""

    def __init__(self, delay: timedelta) -> None:
        self.delay = delay
        self._events: list[Event] = []
        self._held_at: dict[int, datetime] = {}  # id of a waiting start: when it was first seen

    def __bool__(self) -> bool:
        return bool(self._events)

    def add(self, events: Iterable[Event]) -> None:
        self._events.extend(events)

    def due(self, now: datetime) -> list[Event]:
        """The events to apply now, in the order they came: every outcome, the starts of
        the same tries, and the starts that have waited ``delay``."""
        if not self._events:
            return []
        ended = set()
        for event in self._events:
            if isinstance(event, TaskFinishedEvent):
                ended.add((event.key, event.try_number))
            else:
                self._held_at.setdefault(id(event), now)
        return [event for event in self._events
                if isinstance(event, TaskFinishedEvent)
                or (event.key, event.try_number) in ended
                or now - self._held_at[id(event)] >= self.delay]

    def applied(self, events: list[Event]) -> None:
        """``events`` (from :meth:`due`) are committed: forget them."""
        if len(events) == len(self._events):
            self._events.clear()
            self._held_at.clear()
            return
        done = {id(event) for event in events}
        self._events = [event for event in self._events if id(event) not in done]
        for gone in done:
            self._held_at.pop(gone, None)

    def take_all(self) -> list[Event]:
        """Every event not yet applied (the scheduler stops: the caller records them)."""
        events, self._events = self._events, []
        self._held_at.clear()
        return events

    def next_due(self) -> datetime | None:
        """When the longest waiting start is due, if a start waits."""
        if not self._held_at:
            return None
        return min(self._held_at.values()) + self.delay
