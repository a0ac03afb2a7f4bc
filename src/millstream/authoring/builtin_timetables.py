"""Airflow 3's built-in timetables, on the Timetable interface of
:mod:`millstream.authoring.timetables`: cron and fixed-delta data intervals (in a time
zone), triggers every delta or on several crons, and a list of event dates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from millstream.authoring.timetables import (
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    TimeRestriction,
    Timetable,
    _as_datetime,
)
from millstream.model.intervals import ensure_utc


def _now() -> datetime:
    return datetime.now(UTC)


class CronDataIntervalTimetable(Timetable):
    """Each run covers the interval from one cron tick to the next and starts at its end
    (Airflow's default for a cron ``schedule``), the cron read in ``timezone``."""

    def __init__(self, cron: str, timezone: Any = "UTC") -> None:
        self._ticks = CronTriggerTimetable(cron, timezone=timezone)
        self.cron = cron
        self.timezone = self._ticks.timezone

    @property
    def summary(self) -> str:
        return self.cron

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        end = self._ticks._at_or_before(run_after)
        return DataInterval(self._ticks._at_or_before(end - timedelta(microseconds=1)), end)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            start = self._ticks._after(last_automated_data_interval.end -
                                       timedelta(microseconds=1))
            if not restriction.catchup:
                latest_end = self._ticks._at_or_before(_now())
                start = max(start, self._ticks._at_or_before(latest_end -
                                                             timedelta(microseconds=1)))
        elif restriction.earliest is None:
            return None
        else:
            start = self._ticks._after(restriction.earliest - timedelta(microseconds=1))
            if not restriction.catchup:
                latest_end = self._ticks._at_or_before(_now())
                start = max(start, self._ticks._at_or_before(latest_end -
                                                             timedelta(microseconds=1)))
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start, self._ticks._after(start))

    def serialize(self) -> dict[str, Any]:
        return {"cron": self.cron, "timezone": self.timezone}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CronDataIntervalTimetable:
        return cls(data["cron"], timezone=data["timezone"])


class DeltaDataIntervalTimetable(Timetable):
    """Runs covering ``delta`` each, back to back from the start date."""

    def __init__(self, delta: timedelta) -> None:
        if not isinstance(delta, timedelta) or delta <= timedelta():
            raise ValueError(f"DeltaDataIntervalTimetable needs a positive timedelta, got "
                             f"{delta!r}")
        self.delta = delta

    @property
    def summary(self) -> str:
        return str(self.delta)

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval(run_after - self.delta, run_after)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            start = last_automated_data_interval.end
        elif restriction.earliest is None:
            return None
        else:
            start = restriction.earliest
        if not restriction.catchup:
            behind = (_as_datetime(_now()) - start) // self.delta - 1
            if behind > 0:
                start = start + behind * self.delta
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start, start + self.delta)

    def serialize(self) -> dict[str, Any]:
        return {"delta": self.delta.total_seconds()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DeltaDataIntervalTimetable:
        return cls(timedelta(seconds=data["delta"]))


class DeltaTriggerTimetable(Timetable):
    """A run every ``delta`` from the start date, at that moment (its data interval ends
    there and spans ``interval`` before it)."""

    def __init__(self, delta: timedelta, *, interval: timedelta = timedelta()) -> None:
        self._intervals = DeltaDataIntervalTimetable(delta)
        self.delta = delta
        self.interval = interval

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval(run_after - self.interval, run_after)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        previous = None if last_automated_data_interval is None else DataInterval(
            last_automated_data_interval.end, last_automated_data_interval.end + self.delta)
        if previous is not None:
            tick = previous.end
        elif restriction.earliest is None:
            return None
        else:
            tick = restriction.earliest
        now = _as_datetime(_now())
        if not restriction.catchup and tick < now:
            tick = tick + ((now - tick) // self.delta) * self.delta  # the latest due tick
        if restriction.latest is not None and tick > restriction.latest:
            return None
        return DagRunInfo(tick, DataInterval(tick - self.interval, tick))

    def serialize(self) -> dict[str, Any]:
        return {"delta": self.delta.total_seconds(), "interval": self.interval.total_seconds()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DeltaTriggerTimetable:
        return cls(timedelta(seconds=data["delta"]),
                   interval=timedelta(seconds=data["interval"]))


class MultipleCronTriggerTimetable(Timetable):
    """A run at each tick of any of several cron expressions."""

    def __init__(self, *crons: str, timezone: Any = "UTC",
                 interval: timedelta = timedelta()) -> None:
        if not crons:
            raise ValueError("MultipleCronTriggerTimetable needs at least one cron expression")
        self.timetables = [CronTriggerTimetable(c, timezone=timezone, interval=interval)
                           for c in crons]
        self.crons = list(crons)
        self.timezone = self.timetables[0].timezone
        self.interval = interval

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval(run_after - self.interval, run_after)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        found = [t.next_dagrun_info(last_automated_data_interval=last_automated_data_interval,
                                    restriction=restriction) for t in self.timetables]
        infos = [info for info in found if info is not None]
        return min(infos, key=lambda info: info.run_after) if infos else None

    def serialize(self) -> dict[str, Any]:
        return {"crons": self.crons, "timezone": self.timezone,
                "interval": self.interval.total_seconds()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> MultipleCronTriggerTimetable:
        return cls(*data["crons"], timezone=data["timezone"],
                   interval=timedelta(seconds=data["interval"]))


class EventsTimetable(Timetable):
    """A run at each of a list of moments (Airflow's ``EventsTimetable``)."""

    def __init__(self, event_dates: list[datetime], restrict_to_events: bool = False,
                 presorted: bool = False, description: str | None = None) -> None:
        self.event_dates = [_as_datetime(d) for d in event_dates]
        if not presorted:
            self.event_dates.sort()
        self.restrict_to_events = restrict_to_events
        self.description = description or f"{len(self.event_dates)} events"

    @property
    def summary(self) -> str:
        return self.description

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        if self.restrict_to_events:
            past = [d for d in self.event_dates if d <= run_after]
            moment = past[-1] if past else self.event_dates[0]
            return DataInterval.exact(moment)
        return DataInterval.exact(run_after)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        after = None if last_automated_data_interval is None else \
            last_automated_data_interval.end
        for moment in self.event_dates:
            if after is not None and moment <= after:
                continue
            if restriction.earliest is not None and moment < restriction.earliest:
                continue
            if restriction.latest is not None and moment > restriction.latest:
                return None
            if not restriction.catchup and moment < _as_datetime(_now()) and any(
                    later <= _as_datetime(_now()) for later in self.event_dates
                    if later > moment):
                continue  # without catchup only the latest past event runs
            return DagRunInfo.exact(moment)
        return None

    def serialize(self) -> dict[str, Any]:
        return {"event_dates": [d.isoformat() for d in self.event_dates],
                "restrict_to_events": self.restrict_to_events,
                "description": self.description}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> EventsTimetable:
        return cls([ensure_utc(datetime.fromisoformat(d)) for d in data["event_dates"]],
                   restrict_to_events=data["restrict_to_events"], presorted=True,
                   description=data["description"])


__all__ = ["CronDataIntervalTimetable", "DeltaDataIntervalTimetable", "DeltaTriggerTimetable",
           "EventsTimetable", "MultipleCronTriggerTimetable"]
