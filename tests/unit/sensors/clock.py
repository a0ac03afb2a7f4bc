"""A fake time for sensor tests: sleeping moves it forward and is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream.triggerer.clock import SkippingClock

START = datetime(2026, 1, 1, 6, tzinfo=UTC)


class FakeTime:
    """``now`` stays put until something sleeps; every sleep is remembered."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.sleeps: list[timedelta] = []

    def skip_to(self, moment: datetime) -> None:
        if moment > self.now:
            self.sleeps.append(moment - self.now)
            self.now = moment

    def clock(self) -> SkippingClock:
        return SkippingClock(lambda: self.now, self.skip_to)
