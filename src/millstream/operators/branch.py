"""Branching operators that choose their path from the date, the weekday or the run.

Each one calls :meth:`BaseBranchOperator.choose_branch` and skips the direct downstream
tasks it did not choose, exactly as ``@task.branch`` does with its function's result.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from millstream.authoring.task import BaseOperator
from millstream.exceptions import DagDefinitionError, MillstreamError
from millstream.operators.skipping import branch_targets, skip_tasks

log = logging.getLogger("millstream.task")


class BaseBranchOperator(BaseOperator):
    """Subclasses implement ``choose_branch(context)``, returning task id(s) to follow."""

    ui_color = "#fff2cc"

    def choose_branch(self, context: dict[str, Any]) -> str | Iterable[str] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement choose_branch()")

    def execute(self, context: dict[str, Any]) -> Any:
        chosen = self.choose_branch(context)
        follow = branch_targets(context, chosen)
        log.info("Following branch %s", sorted(follow))
        skip_tasks(context, self.downstream_task_ids - follow)
        return chosen


def _now(context: dict[str, Any], use_logical_date: bool, task_id: str) -> datetime:
    if not use_logical_date:
        return datetime.now(UTC)
    logical_date = context.get("logical_date")
    if logical_date is None:
        raise MillstreamError(f"task {task_id!r}: the run has no logical date to compare")
    return logical_date if logical_date.tzinfo else logical_date.replace(tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def target_times_as_dates(base: datetime, lower: datetime | time | None,
                          upper: datetime | time | None) -> tuple[datetime | None,
                                                                  datetime | None]:
    """The bounds as datetimes: times of day fall on ``base``'s date, and an upper time
    earlier than the lower one falls on the next day (a window across midnight)."""
    if isinstance(lower, datetime) and isinstance(upper, datetime):
        return _aware(lower), _aware(upper)
    low = datetime.combine(base.date(), lower, base.tzinfo) if isinstance(lower, time) and (
        not isinstance(lower, datetime)) else lower
    high = datetime.combine(base.date(), upper, base.tzinfo) if isinstance(upper, time) and (
        not isinstance(upper, datetime)) else upper
    low, high = _aware(low), _aware(high)
    if low is not None and high is not None and high < low:
        high += timedelta(days=1)
    return low, high


class BranchDateTimeOperator(BaseBranchOperator):
    """Follows ``follow_task_ids_if_true`` when now (or the run's logical date, with
    ``use_task_logical_date``) is between ``target_lower`` and ``target_upper``, else
    ``follow_task_ids_if_false``. Either bound may be left out; times of day are taken on
    the compared date, naive values are UTC."""

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        target_lower: datetime | time | None = None,
        target_upper: datetime | time | None = None,
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if target_lower is None and target_upper is None:
            raise DagDefinitionError(
                f"task {self.task_id!r}: BranchDateTimeOperator needs target_lower, "
                "target_upper or both"
            )
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.target_lower = target_lower
        self.target_upper = target_upper
        self.use_task_logical_date = use_task_logical_date

    def choose_branch(self, context: dict[str, Any]) -> str | Iterable[str]:
        now = _now(context, self.use_task_logical_date, self.task_id)
        lower, upper = target_times_as_dates(now, self.target_lower, self.target_upper)
        if (upper is not None and upper < now) or (lower is not None and lower > now):
            return self.follow_task_ids_if_false
        return self.follow_task_ids_if_true


class WeekDay(enum.IntEnum):
    """Days of the week, numbered as ``datetime.isoweekday()`` (Monday is 1)."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7

    @classmethod
    def get_weekday_number(cls, week_day_str: str) -> int:
        """The number of a day named in any case (``"monday"``); ValueError otherwise."""
        try:
            return cls[week_day_str.upper()].value
        except KeyError:
            raise ValueError(f"{week_day_str!r} is not a day of the week") from None

    @classmethod
    def convert(cls, day: str | WeekDay) -> int:
        """The number of a day given by name or as a WeekDay."""
        if isinstance(day, WeekDay):
            return day.value
        return cls.get_weekday_number(day)

    @classmethod
    def validate_week_day(cls, week_day: str | WeekDay | Iterable[str | WeekDay]) -> set[int]:
        """The day numbers of a day or a collection of days."""
        if isinstance(week_day, str | WeekDay):
            return {cls.convert(week_day)}
        days = list(week_day)
        if not days:
            raise ValueError("no day of the week given")
        return {cls.convert(day) for day in days}


class BranchDayOfWeekOperator(BaseBranchOperator):
    """Follows ``follow_task_ids_if_true`` when today (UTC; or the run's logical date with
    ``use_task_logical_date``) is one of ``week_day``, else ``follow_task_ids_if_false``."""

    def __init__(
        self,
        *,
        follow_task_ids_if_true: str | Iterable[str],
        follow_task_ids_if_false: str | Iterable[str],
        week_day: str | WeekDay | Iterable[str | WeekDay],
        use_task_logical_date: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            self._week_day_numbers = WeekDay.validate_week_day(week_day)
        except (ValueError, TypeError) as exc:
            raise DagDefinitionError(f"task {self.task_id!r}: week_day: {exc}") from None
        self.follow_task_ids_if_true = follow_task_ids_if_true
        self.follow_task_ids_if_false = follow_task_ids_if_false
        self.week_day = week_day
        self.use_task_logical_date = use_task_logical_date

    def choose_branch(self, context: dict[str, Any]) -> str | Iterable[str]:
        now = _now(context, self.use_task_logical_date, self.task_id)
        if now.isoweekday() in self._week_day_numbers:
            return self.follow_task_ids_if_true
        return self.follow_task_ids_if_false


class LatestOnlyOperator(BaseBranchOperator):
    """Skips its downstream tasks unless the run is the latest of its schedule.

    A run is the latest when now falls inside the data interval that follows the run's
    own (the next run is not due yet). Runs triggered by hand, and runs without a data
    interval, always go ahead.
    """

    ui_color = "#e9ffdb"

    def choose_branch(self, context: dict[str, Any]) -> Iterable[str]:
        everything = sorted(self.downstream_task_ids)
        run = context.get("dag_run")
        if run is None or getattr(run, "run_type", "manual") != "scheduled":
            log.info("Not a scheduled run: downstream tasks proceed")
            return everything
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        schedule = getattr(self.dag, "timetable", None)
        if start is None or end is None or schedule is None:
            return everything
        from millstream.model.intervals import DataInterval

        far = datetime.max.replace(tzinfo=UTC) - timedelta(days=366)
        following = schedule.next_interval(DataInterval(start, end), None, None, True, far)
        if following is None:
            return everything
        now = datetime.now(UTC)
        if following.start < now <= following.end:
            return everything
        log.info("Not the latest run (the next one covers %s to %s): skipping downstream",
                 following.start, following.end)
        return []


__all__ = [
    "BaseBranchOperator",
    "BranchDateTimeOperator",
    "BranchDayOfWeekOperator",
    "LatestOnlyOperator",
    "WeekDay",
    "target_times_as_dates",
]
