"""The clock sensors and time triggers read: real time, or the skipping clock of dag.test()."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta


class Clock:
    """Real time: ``now()`` is the wall clock, waits really wait."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` (a sensor in poke mode between two pokes)."""
        if seconds > 0:
            time.sleep(seconds)

    async def sleep_until(self, moment: datetime) -> None:
        """Return at ``moment`` without blocking the event loop (a time trigger)."""
        while True:
            delay = (moment - self.now()).total_seconds()
            if delay <= 0:
                return
            # Sleep in bounded steps: a wall clock that jumps (NTP, suspend) is re-read.
            await asyncio.sleep(min(delay, 60.0))


class SkippingClock(Clock):
    """A test clock: waiting moves ``now()`` forward at once instead of taking time.

    ``now`` and ``skip_to`` come from the caller (dag.test's clock), so the scheduler,
    the sensors and the triggers all read the same time.
    """

    def __init__(self, now: Callable[[], datetime], skip_to: Callable[[datetime], None]) -> None:
        self._now = now
        self._skip_to = skip_to

    def now(self) -> datetime:
        return self._now()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._skip_to(self._now() + timedelta(seconds=seconds))

    async def sleep_until(self, moment: datetime) -> None:
        self._skip_to(moment)
        await asyncio.sleep(0)


_REAL = Clock()
_current: ContextVar[Clock | None] = ContextVar("millstream_clock", default=None)


def current_clock() -> Clock:
    """The clock of this thread (or asyncio task): real time unless a test installed one."""
    return _current.get() or _REAL


@contextlib.contextmanager
def using_clock(clock: Clock) -> Iterator[Clock]:
    """Make ``clock`` what :func:`current_clock` returns while the block runs."""
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)
