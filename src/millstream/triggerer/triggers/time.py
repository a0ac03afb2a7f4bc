"""Time triggers: fire at a moment (DateTimeTrigger) or after a delay (TimeDeltaTrigger)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from millstream.triggerer.base import BaseTrigger, TriggerEvent
from millstream.triggerer.clock import current_clock


class DateTimeTrigger(BaseTrigger):
    """Fires once ``moment`` (a timezone-aware datetime) has come; the event is the moment."""

    def __init__(self, moment: datetime) -> None:
        super().__init__()
        if not isinstance(moment, datetime):
            raise TypeError(f"DateTimeTrigger: moment must be a datetime, got {moment!r}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(
                f"DateTimeTrigger: moment {moment.isoformat()} has no time zone; "
                "pass an aware datetime (e.g. with tzinfo=UTC)"
            )
        self.moment = moment

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("millstream.triggerer.triggers.time.DateTimeTrigger", {"moment": self.moment})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await current_clock().sleep_until(self.moment)
        yield TriggerEvent(self.moment)


class TimeDeltaTrigger(DateTimeTrigger):
    """Fires ``delta`` after it was created; stored as the moment, so a restart waits no longer."""

    def __init__(self, delta: timedelta) -> None:
        if not isinstance(delta, timedelta):
            raise TypeError(f"TimeDeltaTrigger: delta must be a timedelta, got {delta!r}")
        super().__init__(current_clock().now() + delta)
