"""Schedules as DAG authors write them: cron expressions, presets and ``parse_schedule``.

The intervals, catchup and the other schedules are in :mod:`millstream.model.intervals`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from millstream.model.intervals import (
    DataInterval,
    DeltaSchedule,
    NoSchedule,
    OnceSchedule,
    Schedule,
    _cron_lib,
    _Periodic,
    ensure_utc,
)

__all__ = ["PRESETS", "CronSchedule", "parse_schedule"]

PRESETS: Mapping[str, str] = MappingProxyType(
    {
        "@hourly": "0 * * * *",
        "@daily": "0 0 * * *",
        "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *",
        "@quarterly": "0 0 1 */3 *",
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
    }
)
"""Cron presets and the expressions they stand for. ``@once`` and ``None`` are not cron."""

_ONCE = "@once"

# A fixed moment from which a new cron expression must find a tick, to reject
# expressions that never match (such as 30 February).
_CRON_PROBE = datetime(2000, 1, 1, tzinfo=UTC)


_PARSED = threading.local()


def _ticks(cron: str, moment: datetime) -> Any:
    """A croniter over ``cron`` set at ``moment``: each thread parses an expression once and
    moves the same iterator (parsing it costs as much as the ticks a scheduler asks for)."""
    cache: dict[str, Any] | None = getattr(_PARSED, "iterators", None)
    if cache is None:
        cache = _PARSED.iterators = {}
    ticks = cache.get(cron)
    if ticks is None:
        ticks = cache[cron] = _cron_lib().croniter(cron, moment)
    else:
        ticks.set_current(moment, force=True)
    return ticks


# The ticks around a UTC moment, kept for the moments asked about again: the DAGs due in
# one round mostly share their schedules and ask about the same moments (the round's now,
# their last interval's end, their start date), and croniter takes about 0.1 ms a tick.
# Other time zones are worked out each time (a tick depends on the zone, not only the instant).
@functools.lru_cache(maxsize=4096)
def _utc_tick_after(cron: str, moment: datetime) -> datetime:
    return ensure_utc(_ticks(cron, moment).get_next(datetime))


@functools.lru_cache(maxsize=4096)
def _utc_tick_before(cron: str, moment: datetime) -> datetime:
    return ensure_utc(_ticks(cron, moment).get_prev(datetime))


@dataclass(frozen=True)
class CronSchedule(_Periodic):
    """Intervals from one tick of a 5-field cron expression (or preset) to the next, in UTC."""

    expression: str
    _cron: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str):
            raise ValueError(
                f"cron expression must be a string, got {type(self.expression).__name__}"
            )
        expression = " ".join(self.expression.split())
        if expression.startswith("@"):
            expression = expression.lower()
            if expression not in PRESETS:
                raise ValueError(_unknown_preset(expression))
            cron = PRESETS[expression]
        else:
            cron = expression
            fields = cron.split()
            if len(fields) != 5:
                raise ValueError(
                    f"invalid cron expression {self.expression!r}: expected 5 fields "
                    f"(minute hour day-of-month month day-of-week), got {len(fields)}"
                )
        try:
            _cron_lib().croniter(cron, _CRON_PROBE).get_next(datetime)
        except _cron_lib().CroniterBadDateError:
            raise ValueError(
                f"cron expression {self.expression!r} never matches any date"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"invalid cron expression {self.expression!r}: {exc}") from None
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "_cron", cron)

    def _tick_after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment``."""
        if moment.tzinfo is UTC:
            return _utc_tick_after(self._cron, moment)
        return ensure_utc(_ticks(self._cron, moment).get_next(datetime))

    def _tick_before(self, moment: datetime) -> datetime:
        """The last tick strictly before ``moment``."""
        if moment.tzinfo is UTC:
            return _utc_tick_before(self._cron, moment)
        return ensure_utc(_ticks(self._cron, moment).get_prev(datetime))

    def _tick_at_or_before(self, moment: datetime) -> datetime:
        """``moment`` if it is a tick, else the last tick before it."""
        if moment.tzinfo is UTC:
            before = _utc_tick_before(self._cron, moment)
            following = _utc_tick_after(self._cron, before)
        else:
            ticks = _ticks(self._cron, moment)
            before = ensure_utc(ticks.get_prev(datetime))
            following = ensure_utc(ticks.get_next(datetime))
        return following if following <= moment else before

    def _tick_at_or_after(self, moment: datetime) -> datetime:
        """``moment`` if it is a tick, else the first tick after it."""
        if moment.tzinfo is UTC:
            after = _utc_tick_after(self._cron, moment)
            preceding = _utc_tick_before(self._cron, after)
        else:
            ticks = _ticks(self._cron, moment)
            after = ensure_utc(ticks.get_next(datetime))
            preceding = ensure_utc(ticks.get_prev(datetime))
        return preceding if preceding >= moment else after

    def _end_of(self, start: datetime) -> datetime:
        return self._tick_after(start)

    def _first_start(
        self, last: DataInterval | None, start_date: datetime | None, now: datetime, catchup: bool
    ) -> datetime | None:
        earliest = None if start_date is None else self._tick_at_or_after(ensure_utc(start_date))
        if last is not None:
            start = self._tick_at_or_after(last.end)
            if earliest is not None:
                start = max(start, earliest)
        elif earliest is None:
            return None  # never ran and no start_date: nothing to anchor on
        else:
            start = earliest
        if not catchup:
            # The latest interval that has ended: it ends at the last tick <= now.
            latest_start = self._tick_before(self._tick_at_or_before(now))
            start = max(start, latest_start)
        return start

    def data_interval_for(self, logical_date: datetime) -> DataInterval:
        """Return the cron interval containing ``logical_date``.

        For a date on a tick that is ``[logical_date, next tick)``; for a date
        between ticks it is ``[previous tick, next tick)``.
        """
        start = self._tick_at_or_before(ensure_utc(logical_date))
        return DataInterval(start, self._tick_after(start))

    def manual_data_interval(self, run_after: datetime) -> DataInterval:
        """Return the last complete cron interval at ``run_after``: from the tick before the
        last tick at or before ``run_after``, to that tick."""
        end = self._tick_at_or_before(ensure_utc(run_after))
        return DataInterval(self._tick_before(end), end)

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
        if not catchup or (limit is not None and limit <= 0):
            return super().missed_intervals(last, start_date, end_date, catchup, now, limit=limit)
        first = self.next_interval(last, start_date, end_date, True, now)
        if first is None:
            return []
        now = ensure_utc(now)
        latest_start = None if end_date is None else ensure_utc(end_date)
        found = [first]
        ticks = _cron_lib().croniter(self._cron, first.end)
        start = first.end
        try:
            while limit is None or len(found) < limit:
                if latest_start is not None and start > latest_start:
                    break
                end = ensure_utc(ticks.get_next(datetime))
                if end > now:
                    break
                found.append(DataInterval(start, end))
                start = end
        except (OverflowError, _cron_lib().CroniterBadDateError):
            pass  # past the last representable datetime
        return found

    def next_run_after(
        self,
        moment: datetime,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> datetime | None:
        """Return the first tick after ``moment`` that ends an interval within the bounds."""
        try:
            due = self._tick_after(ensure_utc(moment))
            if start_date is not None:
                first_end = self._tick_after(self._tick_at_or_after(ensure_utc(start_date)))
                due = max(due, first_end)
            if end_date is not None and self._tick_before(due) > ensure_utc(end_date):
                return None
        except (OverflowError, _cron_lib().CroniterBadDateError):
            return None
        return due


def _unknown_preset(value: str) -> str:
    expected = ", ".join([_ONCE, *PRESETS])
    return f"unknown schedule preset {value!r}; expected one of: {expected}"


def parse_schedule(value: str | timedelta | Schedule | None) -> Schedule:
    """Turn a DAG's ``schedule`` argument into a :class:`Schedule`.

    Accepts a 5-field cron expression, a preset (``@daily``, ``@once`` ...),
    a positive ``timedelta``, ``None`` (manual runs only) or a ``Schedule``.
    Raises ``ValueError`` saying what is wrong with anything else.
    """
    if value is None:
        return NoSchedule()
    if isinstance(value, Schedule):
        return value
    if isinstance(value, timedelta):
        return DeltaSchedule(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("schedule is an empty string; use None for manual runs only")
        if text.lower() == _ONCE:
            return OnceSchedule()
        return CronSchedule(text)
    raise ValueError(
        f"unsupported schedule {value!r} of type {type(value).__name__}; expected a cron "
        "expression, a preset such as '@daily', a timedelta, None or a Schedule"
    )
