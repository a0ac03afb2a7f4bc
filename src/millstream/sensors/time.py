"""Time sensors: wait until a moment (DateTimeSensor), a time of day (TimeSensor) or a delay
after the data interval (TimeDeltaSensor), in a worker slot or, with ``deferrable=True``, in
the triggerer."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from typing import Any

from millstream.exceptions import DagDefinitionError
from millstream.model.intervals import ensure_utc
from millstream.sensors.base import BaseSensorOperator
from millstream.triggerer.base import BaseTrigger
from millstream.triggerer.clock import current_clock
from millstream.triggerer.triggers.time import DateTimeTrigger

log = logging.getLogger("millstream.task")


class TimeDeltaSensor(BaseSensorOperator):
    """Waits until ``delta`` after the run's data interval ends.

    A daily run for 2026-01-01 with ``delta=timedelta(hours=2)`` waits until
    2026-01-02 02:00 UTC. With ``deferrable=True`` the wait happens in the triggerer.
    """

    def __init__(self, *, delta: timedelta, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(delta, timedelta):
            raise DagDefinitionError(
                f"task {self.task_id!r}: delta must be a timedelta, got {delta!r}"
            )
        self.delta = delta

    def target(self, context: dict[str, Any]) -> datetime:
        """The moment the sensor waits for."""
        end = context.get("data_interval_end") or context["logical_date"]
        return ensure_utc(end) + self.delta

    def poke(self, context: dict[str, Any]) -> bool:
        target = self.target(context)
        self.log_target(target)
        return current_clock().now() >= target

    def make_trigger(self, context: dict[str, Any]) -> BaseTrigger:
        return DateTimeTrigger(self.target(context))

    def log_target(self, target: datetime) -> None:
        """Say what the sensor waits for."""
        log.info("%s: waiting until %s", self.task_id, target.isoformat())


class TimeDeltaSensorAsync(TimeDeltaSensor):
    """A :class:`TimeDeltaSensor` that waits in the triggerer (``deferrable=True``)."""

    def __init__(self, *, deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(deferrable=deferrable, **kwargs)


class DateTimeSensor(BaseSensorOperator):
    """Waits until ``target_time``: a datetime, or a templated ISO 8601 string such as
    ``"{{ data_interval_end + macros.timedelta(hours=1) }}"``. A naive time means UTC.
    With ``deferrable=True`` the wait happens in the triggerer."""

    template_fields = ("target_time",)

    def __init__(self, *, target_time: str | datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(target_time, datetime):
            target_time = ensure_utc(target_time).isoformat()
        elif not isinstance(target_time, str):
            raise DagDefinitionError(
                f"task {self.task_id!r}: target_time must be a datetime or a string, "
                f"got {type(target_time).__name__}"
            )
        self.target_time = target_time

    def target(self) -> datetime:
        """The (rendered) target time, as an aware UTC datetime."""
        try:
            return ensure_utc(datetime.fromisoformat(str(self.target_time)))
        except ValueError:
            raise ValueError(
                f"task {self.task_id!r}: target_time {self.target_time!r} is not an ISO 8601 "
                "date-time (e.g. 2026-01-01T06:00:00+00:00)"
            ) from None

    def poke(self, context: dict[str, Any]) -> bool:
        return current_clock().now() >= self.target()

    def make_trigger(self, context: dict[str, Any]) -> BaseTrigger:
        return DateTimeTrigger(self.target())


class DateTimeSensorAsync(DateTimeSensor):
    """A :class:`DateTimeSensor` that waits in the triggerer (``deferrable=True``)."""

    def __init__(self, *, deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(deferrable=deferrable, **kwargs)


class TimeSensor(BaseSensorOperator):
    """Waits until ``target_time`` (a time of day, UTC when naive) on the date the run's
    data interval ends (today for a run without one). With ``deferrable=True`` the wait
    happens in the triggerer."""

    def __init__(self, *, target_time: time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(target_time, time):
            raise DagDefinitionError(
                f"task {self.task_id!r}: target_time must be a datetime.time, "
                f"got {type(target_time).__name__}"
            )
        self.target_time = target_time

    def target(self, context: dict[str, Any]) -> datetime:
        """The moment to wait for, on the run's date."""
        day = context.get("data_interval_end") or current_clock().now()
        zone = self.target_time.tzinfo or UTC
        return ensure_utc(datetime.combine(day.date(), self.target_time.replace(tzinfo=None),
                                           zone))

    def poke(self, context: dict[str, Any]) -> bool:
        return current_clock().now() >= self.target(context)

    def make_trigger(self, context: dict[str, Any]) -> BaseTrigger:
        return DateTimeTrigger(self.target(context))


class TimeSensorAsync(TimeSensor):
    """A :class:`TimeSensor` that waits in the triggerer (``deferrable=True``)."""

    def __init__(self, *, deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(deferrable=deferrable, **kwargs)
