"""Timetables written to Airflow's ``Timetable`` interface, usable as a DAG's schedule.

A timetable says when runs happen with two methods, as Airflow documents them:
``next_dagrun_info(*, last_automated_data_interval, restriction)`` gives the next run (its
data interval and when it may start, or None), and ``infer_manual_data_interval(*,
run_after)`` the data interval of a manually triggered run. :class:`TimetableSchedule`
runs such an object on millstream's scheduler. Datetimes handed to the timetable are
pendulum ``DateTime`` objects when pendulum is installed (as in Airflow), else aware
``datetime`` objects in UTC.

For the scheduler to rebuild the schedule, the timetable's class must be importable by
its module path: keep it in the plugins folder (``core.plugins_folder``) or an installed
package, as Airflow asks. ``serialize()`` / ``deserialize()`` carry its arguments.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from millstream.model.intervals import DataInterval as _Interval
from millstream.model.intervals import Schedule, ensure_utc


def _as_datetime(value: datetime) -> datetime:
    """An aware datetime, as pendulum's DateTime when pendulum is installed."""
    value = ensure_utc(value)
    try:
        import pendulum
    except ImportError:
        return value
    return pendulum.instance(value)


class DataInterval(NamedTuple):
    """A data interval as Airflow's timetables see it: ``start`` and ``end``."""

    start: datetime
    end: datetime

    @classmethod
    def exact(cls, at: datetime) -> DataInterval:
        """The point interval ``[at, at]``."""
        return cls(at, at)


class TimeRestriction(NamedTuple):
    """What bounds the next run: ``earliest`` (start_date), ``latest`` (end_date), catchup."""

    earliest: datetime | None
    latest: datetime | None
    catchup: bool


class DagRunInfo(NamedTuple):
    """The next run: when it may start (``run_after``) and the data interval it covers."""

    run_after: datetime
    data_interval: DataInterval

    @classmethod
    def exact(cls, at: datetime) -> DagRunInfo:
        return cls(at, DataInterval.exact(at))

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> DagRunInfo:
        """A run covering ``[start, end)``, to start once ``end`` has passed."""
        return cls(end, DataInterval(start, end))

    @property
    def logical_date(self) -> datetime:
        return self.data_interval.start


class Timetable:
    """The base of user-written timetables (Airflow's ``airflow.timetables.base.Timetable``).

    Subclasses implement :meth:`next_dagrun_info` and :meth:`infer_manual_data_interval`;
    the class attributes are Airflow's and are read by the UI only.
    """

    periodic: bool = True
    can_be_scheduled: bool = True
    run_ordering: tuple[str, ...] = ("data_interval_end", "logical_date")
    active_runs_limit: int | None = None
    description: str = ""

    @property
    def summary(self) -> str:
        return type(self).__name__

    def validate(self) -> None:
        """Raise if the timetable's arguments are wrong (called when the DAG is made)."""

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        raise NotImplementedError

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        raise NotImplementedError

    def serialize(self) -> dict[str, Any]:
        return {}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(**data) if data else cls()


def is_timetable(value: object) -> bool:
    """Whether ``value`` has Airflow's timetable methods (a subclass of ours or not)."""
    return all(callable(getattr(value, name, None))
               for name in ("next_dagrun_info", "infer_manual_data_interval"))


class TimetableSchedule(Schedule):
    """Runs a timetable with Airflow's interface on millstream's scheduler."""

    __slots__ = ("timetable",)

    def __init__(self, timetable: Any) -> None:
        self.timetable = timetable
        validate = getattr(timetable, "validate", None)
        if callable(validate):
            validate()

    def data_interval_for(self, logical_date: datetime) -> _Interval:
        found = self.timetable.infer_manual_data_interval(run_after=_as_datetime(logical_date))
        return _Interval(ensure_utc(found.start), ensure_utc(found.end))

    def _next(self, last: _Interval | None, start_date: datetime | None,
              end_date: datetime | None, catchup: bool) -> Any:
        previous = None if last is None else DataInterval(_as_datetime(last.start),
                                                          _as_datetime(last.end))
        restriction = TimeRestriction(
            None if start_date is None else _as_datetime(start_date),
            None if end_date is None else _as_datetime(end_date), catchup)
        return self.timetable.next_dagrun_info(last_automated_data_interval=previous,
                                               restriction=restriction)

    def next_interval(self, last: _Interval | None, start_date: datetime | None,
                      end_date: datetime | None, catchup: bool,
                      now: datetime) -> _Interval | None:
        info = self._next(last, start_date, end_date, catchup)
        if info is None or ensure_utc(info.run_after) > ensure_utc(now):
            return None
        return _Interval(ensure_utc(info.data_interval.start), ensure_utc(info.data_interval.end))

    def next_run_after(self, moment: datetime, *, start_date: datetime | None = None,
                       end_date: datetime | None = None) -> datetime | None:
        # The run after the one that would have covered up to `moment`.
        point = ensure_utc(moment)
        info = self._next(_Interval(point, point), start_date, end_date, True)
        if info is None:
            return None
        run_after = ensure_utc(info.run_after)
        return run_after if run_after > point else point + timedelta(seconds=1)

    def class_path(self) -> str:
        kind = type(self.timetable)
        return f"{kind.__module__}:{kind.__qualname__}"

    def __str__(self) -> str:
        summary = getattr(self.timetable, "summary", None)
        return str(summary) if summary else type(self.timetable).__name__

    def __repr__(self) -> str:
        return f"TimetableSchedule({self.timetable!r})"


def load_timetable(class_path: str, data: dict[str, Any]) -> TimetableSchedule:
    """The schedule :meth:`TimetableSchedule.class_path` and ``serialize()`` describe."""
    module, _, qualname = class_path.partition(":")
    from millstream.authoring.plugins import add_plugins_folder

    add_plugins_folder()
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    deserialize = getattr(target, "deserialize", None)
    return TimetableSchedule(deserialize(data) if callable(deserialize) else target())


def as_schedule(value: Any) -> Schedule:
    """A DAG's ``schedule`` or a timetable argument as a millstream Schedule."""
    if is_timetable(value) and not isinstance(value, Schedule):
        return TimetableSchedule(value)
    from millstream.model.cron import parse_schedule

    return parse_schedule(value)


class CronTriggerTimetable(Timetable):
    """Runs at each tick of a cron expression (Airflow's ``CronTriggerTimetable``).

    A run's logical date is its tick; its data interval ends there and spans ``interval``
    before it (none by default). ``timezone`` is where the expression is read.
    """

    def __init__(self, cron: str, *, timezone: Any = "UTC", interval: timedelta = timedelta(),
                 run_immediately: bool | timedelta = False) -> None:
        from millstream.model.cron import CronSchedule

        CronSchedule(cron)  # the same checks and messages as a cron schedule
        self.cron = cron
        self.timezone = str(getattr(timezone, "name", timezone))
        self.interval = interval
        self.run_immediately = run_immediately

    @property
    def summary(self) -> str:
        return self.cron

    def _ticks(self, moment: datetime) -> Any:
        from zoneinfo import ZoneInfo

        from croniter import croniter

        from millstream.model.cron import PRESETS

        expression = PRESETS.get(self.cron.strip().lower(), self.cron)
        return croniter(expression, ensure_utc(moment).astimezone(ZoneInfo(self.timezone)))

    def _after(self, moment: datetime) -> datetime:
        return _as_datetime(self._ticks(moment).get_next(datetime))

    def _at_or_before(self, moment: datetime) -> datetime:
        ticks = self._ticks(moment + timedelta(microseconds=1))
        return _as_datetime(ticks.get_prev(datetime))

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval(run_after - self.interval, run_after)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        now = datetime.now(UTC)
        if last_automated_data_interval is not None:
            tick = self._after(last_automated_data_interval.end)
            if not restriction.catchup:
                tick = max(tick, self._at_or_before(now))
        elif restriction.earliest is None:
            return None
        elif restriction.catchup:
            tick = self._after(restriction.earliest - timedelta(microseconds=1))
        else:
            tick = max(self._at_or_before(now),
                       self._after(restriction.earliest - timedelta(microseconds=1)))
        if restriction.latest is not None and tick > restriction.latest:
            return None
        return DagRunInfo(tick, DataInterval(tick - self.interval, tick))

    def serialize(self) -> dict[str, Any]:
        return {"cron": self.cron, "timezone": self.timezone,
                "interval": self.interval.total_seconds()}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CronTriggerTimetable:
        return cls(data["cron"], timezone=data["timezone"],
                   interval=timedelta(seconds=data["interval"]))

    def __repr__(self) -> str:
        return f"CronTriggerTimetable({self.cron!r}, timezone={self.timezone!r})"


__all__ = ["CronTriggerTimetable", "DagRunInfo", "DataInterval", "TimeRestriction", "Timetable",
           "TimetableSchedule", "as_schedule", "is_timetable", "load_timetable"]
