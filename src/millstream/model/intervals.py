"""Schedules: the data intervals a DAG's runs cover, when each run is due, and catchup.

A run covers a *data interval* ``[start, end)``; its logical date is the
start, and it becomes due once the interval has ended (``end <= now``), as in
Apache Airflow's data-interval timetables: a daily run for 2026-01-01 covers
2026-01-01T00:00Z to 2026-01-02T00:00Z and is created just after midnight on
2026-01-02.

All datetimes are timezone-aware UTC. Inputs without a timezone are taken to
be UTC (see :func:`ensure_utc`); every datetime returned is UTC.

A run triggered by hand gets :meth:`Schedule.manual_data_interval` of the moment it
was triggered for: the last interval that has completed by then, as Airflow's
``CronDataIntervalTimetable`` and ``DeltaDataIntervalTimetable`` infer it (a manual run
of a ``0 6 * * *`` DAG at 08:54 covers 06:00 the day before to 06:00 today).

``last`` in the methods below is the data interval of the DAG's latest
*scheduled* run (manual runs do not move the schedule), or ``None`` if it has
none yet. ``start_date`` and ``end_date`` bound the intervals: none starts
before ``start_date`` and none starts after ``end_date`` (an interval
starting exactly at ``end_date`` is still run, as in Airflow).

Schedules:

* :class:`~millstream.model.cron.CronSchedule`: intervals run from one cron tick to the
  next (``model/cron.py``, with the presets and :func:`~millstream.model.cron.parse_schedule`).
* :class:`DeltaSchedule`: intervals of a fixed length, laid end to end from
  ``start_date``. With ``catchup=False`` millstream keeps that grid and picks
  the latest interval of it that has ended, where Airflow's delta timetable
  would instead start an unaligned interval ending at the moment the
  scheduler looked; the grid keeps run dates predictable.
* :class:`OnceSchedule`: a single run, for the point interval
  ``[start_date, start_date]``, due once ``start_date`` has passed.
* :class:`NoSchedule`: manual runs only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = [
    "UTC",
    "DataInterval",
    "DeltaSchedule",
    "NoSchedule",
    "OnceSchedule",
    "Schedule",
    "ensure_utc",
]


def _cron_lib() -> Any:
    """croniter, imported on first use: importing millstream stays fast for DAGs without cron."""
    import croniter

    return croniter


def ensure_utc(dt: datetime | date) -> datetime:
    """Return ``dt`` as a timezone-aware UTC ``datetime``.

    A naive datetime is taken to be UTC; an aware one is converted to UTC; a
    plain ``date`` means midnight UTC of that day. Subclasses of datetime
    (pendulum's, for instance) come back as a plain ``datetime``.
    """
    if not isinstance(dt, datetime):
        if isinstance(dt, date):
            return datetime(dt.year, dt.month, dt.day, tzinfo=UTC)
        raise TypeError(f"expected a datetime, got {type(dt).__name__}: {dt!r}")
    aware = dt.replace(tzinfo=UTC) if dt.utcoffset() is None else dt.astimezone(UTC)
    return datetime.combine(aware.date(), aware.time(), UTC)


@dataclass(frozen=True)
class DataInterval:
    """The span of time ``[start, end)`` that one DAG run processes (UTC)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", ensure_utc(self.start))
        object.__setattr__(self, "end", ensure_utc(self.end))
        if self.end < self.start:
            raise ValueError(
                f"data interval ends ({self.end.isoformat()}) "
                f"before it starts ({self.start.isoformat()})"
            )


class Schedule(ABC):
    """When a DAG's runs happen and which data interval each covers."""

    __slots__ = ()

    @abstractmethod
    def data_interval_for(self, logical_date: datetime) -> DataInterval:
        """Return the data interval of a run with this logical date (e.g. a manual run)."""

    def manual_data_interval(self, run_after: datetime) -> DataInterval:
        """Return the data interval of a run triggered by hand at ``run_after``.

        As Airflow's data-interval timetables infer it: the last complete interval
        (``end <= run_after``) for a periodic schedule, the point ``[run_after, run_after]``
        for ``@once`` and for DAGs without a schedule.
        """
        return self.data_interval_for(run_after)

    @abstractmethod
    def next_interval(
        self,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> DataInterval | None:
        """Return the interval of the next scheduled run to create, if it is due at ``now``.

        Returns ``None`` when the next interval has not ended yet, would start
        after ``end_date``, or when the schedule has no further runs. With
        ``catchup=False`` it skips ahead to the latest interval that has ended.
        """

    def missed_intervals(
        self,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime,
        *,
        limit: int | None = None,
    ) -> list[DataInterval]:
        """Return every interval due at ``now`` after ``last``, oldest first.

        With ``catchup=False`` that is at most the latest one. ``limit`` caps
        how many are returned (the oldest ones are kept).
        """
        if limit is not None and limit <= 0:
            return []
        if not catchup:
            due = self.next_interval(last, start_date, end_date, False, now)
            return [] if due is None else [due]
        found: list[DataInterval] = []
        while limit is None or len(found) < limit:
            due = self.next_interval(last, start_date, end_date, True, now)
            if due is None:
                break
            found.append(due)
            last = due
        return found

    @abstractmethod
    def next_run_after(
        self,
        moment: datetime,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> datetime | None:
        """Return the first moment strictly after ``moment`` at which a run becomes due.

        That is the end of the next interval to end after ``moment``; the
        scheduler may sleep until then. ``start_date`` and ``end_date`` bound
        the intervals considered as in :meth:`next_interval`. ``None`` means
        no run will ever become due.
        """


class _Periodic(Schedule):
    """Shared catchup logic for schedules whose intervals tile time end to end."""

    __slots__ = ()

    @abstractmethod
    def _first_start(
        self, last: DataInterval | None, start_date: datetime | None, now: datetime, catchup: bool
    ) -> datetime | None:
        """Start of the next interval to run, or None if there is no anchor for the grid."""

    @abstractmethod
    def _end_of(self, start: datetime) -> datetime:
        """End of the interval that starts at the boundary ``start``."""

    def next_interval(
        self,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> DataInterval | None:
        """Return the interval of the next scheduled run to create, if it is due at ``now``."""
        now = ensure_utc(now)
        try:
            start = self._first_start(last, start_date, now, catchup)
            if start is None:
                return None
            if end_date is not None and start > ensure_utc(end_date):
                return None
            end = self._end_of(start)
        except (OverflowError, _cron_lib().CroniterBadDateError):
            return None  # past the last representable datetime
        if end > now:
            return None
        return DataInterval(start, end)


@dataclass(frozen=True)
class DeltaSchedule(_Periodic):
    """Intervals of a fixed length, laid end to end from the DAG's ``start_date``."""

    delta: timedelta

    def __post_init__(self) -> None:
        if not isinstance(self.delta, timedelta):
            raise ValueError(f"schedule delta must be a timedelta, got {type(self.delta).__name__}")
        if self.delta <= timedelta(0):
            raise ValueError(f"schedule timedelta must be positive, got {self.delta}")

    def _end_of(self, start: datetime) -> datetime:
        return start + self.delta

    def _first_start(
        self, last: DataInterval | None, start_date: datetime | None, now: datetime, catchup: bool
    ) -> datetime | None:
        if start_date is not None:
            anchor = ensure_utc(start_date)
        elif last is not None:
            anchor = last.end
        else:
            return None  # never ran and no start_date: nothing to anchor on
        start = anchor
        if last is not None and last.end > anchor:
            # The first grid point at or after the end of the last interval.
            steps = -((anchor - last.end) // self.delta)
            start = anchor + steps * self.delta
        if not catchup:
            # The latest grid interval that has ended: its end is the last grid point <= now.
            ended = (now - anchor) // self.delta
            if ended >= 1:
                start = max(start, anchor + (ended - 1) * self.delta)
        return start

    def data_interval_for(self, logical_date: datetime) -> DataInterval:
        """Return ``[logical_date, logical_date + delta)``."""
        start = ensure_utc(logical_date)
        return DataInterval(start, start + self.delta)

    def manual_data_interval(self, run_after: datetime) -> DataInterval:
        """Return ``[run_after - delta, run_after)``: the delta that has just ended."""
        end = ensure_utc(run_after)
        return DataInterval(end - self.delta, end)

    def next_run_after(
        self,
        moment: datetime,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> datetime | None:
        """Return the first grid point after ``moment`` that ends an interval within bounds.

        The grid is anchored at ``start_date``; without one it is anchored at
        ``moment`` itself, giving ``moment + delta``.
        """
        moment = ensure_utc(moment)
        anchor = moment if start_date is None else ensure_utc(start_date)
        steps = max(1, (moment - anchor) // self.delta + 1)
        try:
            due = anchor + steps * self.delta
        except OverflowError:
            return None
        if end_date is not None and due - self.delta > ensure_utc(end_date):
            return None
        return due


@dataclass(frozen=True)
class OnceSchedule(Schedule):
    """A single scheduled run, for the point interval ``[start_date, start_date]``."""

    def data_interval_for(self, logical_date: datetime) -> DataInterval:
        """Return the point interval ``[logical_date, logical_date]``."""
        moment = ensure_utc(logical_date)
        return DataInterval(moment, moment)

    def next_interval(
        self,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> DataInterval | None:
        """Return ``[start_date, start_date]`` once ``now`` reaches it, unless it already ran."""
        if last is not None or start_date is None:
            return None
        start = ensure_utc(start_date)
        if end_date is not None and start > ensure_utc(end_date):
            return None
        if ensure_utc(now) < start:
            return None
        return DataInterval(start, start)

    def next_run_after(
        self,
        moment: datetime,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> datetime | None:
        """Return ``start_date`` if it is after ``moment`` (and not after ``end_date``)."""
        if start_date is None:
            return None
        start = ensure_utc(start_date)
        if start <= ensure_utc(moment):
            return None
        if end_date is not None and start > ensure_utc(end_date):
            return None
        return start


@dataclass(frozen=True)
class NoSchedule(Schedule):
    """No scheduled runs: the DAG runs only when triggered."""

    def data_interval_for(self, logical_date: datetime) -> DataInterval:
        """Return the point interval ``[logical_date, logical_date]``."""
        moment = ensure_utc(logical_date)
        return DataInterval(moment, moment)

    def next_interval(
        self,
        last: DataInterval | None,
        start_date: datetime | None,
        end_date: datetime | None,
        catchup: bool,
        now: datetime,
    ) -> DataInterval | None:
        """Return ``None``: nothing is ever scheduled."""
        return None

    def next_run_after(
        self,
        moment: datetime,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> datetime | None:
        """Return ``None``: nothing is ever due."""
        return None
