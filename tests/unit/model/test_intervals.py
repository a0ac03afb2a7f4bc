"""Tests of schedules: data intervals, due runs, catchup and schedule parsing."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from millstream.model.cron import PRESETS, CronSchedule, parse_schedule
from millstream.model.intervals import (
    DataInterval,
    DeltaSchedule,
    NoSchedule,
    OnceSchedule,
    Schedule,
    ensure_utc,
)


def d(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def iv(start: datetime, end: datetime) -> DataInterval:
    return DataInterval(start, end)


def days(*starts: int, month: int = 1) -> list[DataInterval]:
    return [iv(d(2026, month, day), d(2026, month, day) + timedelta(days=1)) for day in starts]


DAILY = CronSchedule("0 0 * * *")

# ---------------------------------------------------------------- ensure_utc


def test_ensure_utc_treats_naive_as_utc() -> None:
    assert ensure_utc(datetime(2026, 1, 1, 12)) == d(2026, 1, 1, 12)
    assert ensure_utc(datetime(2026, 1, 1, 12)).tzinfo is UTC


def test_ensure_utc_converts_other_zones() -> None:
    plus2 = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    result = ensure_utc(plus2)
    assert result == d(2026, 1, 1, 10)
    assert result.tzinfo is UTC
    assert result.hour == 10


def test_ensure_utc_keeps_microseconds_and_utc() -> None:
    moment = d(2026, 3, 4, 5, 6, 7) + timedelta(microseconds=8)
    assert ensure_utc(moment) == moment


def test_ensure_utc_returns_a_plain_datetime_for_subclasses() -> None:
    class Special(datetime):
        pass

    result = ensure_utc(Special(2026, 1, 1, tzinfo=UTC))
    assert type(result) is datetime


def test_ensure_utc_accepts_a_date_as_midnight() -> None:
    assert ensure_utc(date(2026, 1, 2)) == d(2026, 1, 2)


def test_ensure_utc_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="expected a datetime, got str"):
        ensure_utc("2026-01-01")  # type: ignore[arg-type]


# ---------------------------------------------------------------- DataInterval


def test_data_interval_normalises_to_utc() -> None:
    interval = DataInterval(datetime(2026, 1, 1), datetime(2026, 1, 2))
    assert interval == iv(d(2026, 1, 1), d(2026, 1, 2))
    assert interval.start.tzinfo is UTC


def test_data_interval_may_be_a_point() -> None:
    assert DataInterval(d(2026, 1, 1), d(2026, 1, 1)).start == d(2026, 1, 1)


def test_data_interval_must_not_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        DataInterval(d(2026, 1, 2), d(2026, 1, 1))


def test_data_interval_is_frozen_and_hashable() -> None:
    interval = iv(d(2026, 1, 1), d(2026, 1, 2))
    assert {interval: 1}[iv(d(2026, 1, 1), d(2026, 1, 2))] == 1
    with pytest.raises(AttributeError):
        interval.start = d(2026, 1, 3)  # type: ignore[misc]


# ---------------------------------------------------------------- parse_schedule


def test_parse_none_is_manual_only() -> None:
    assert parse_schedule(None) == NoSchedule()


def test_parse_once() -> None:
    assert parse_schedule("@once") == OnceSchedule()
    assert parse_schedule(" @ONCE ") == OnceSchedule()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_parse_presets(preset: str) -> None:
    schedule = parse_schedule(preset)
    assert isinstance(schedule, CronSchedule)
    assert schedule.expression == preset


def test_preset_expressions() -> None:
    assert PRESETS["@hourly"] == "0 * * * *"
    assert PRESETS["@daily"] == "0 0 * * *"
    assert PRESETS["@weekly"] == "0 0 * * 0"
    assert PRESETS["@monthly"] == "0 0 1 * *"
    assert PRESETS["@yearly"] == PRESETS["@annually"] == "0 0 1 1 *"


@pytest.mark.parametrize("preset", list(PRESETS))
def test_preset_behaves_like_its_expression(preset: str) -> None:
    by_name = parse_schedule(preset)
    by_cron = parse_schedule(PRESETS[preset])
    for moment in (d(2026, 1, 1), d(2026, 2, 17, 13, 5), d(2027, 12, 31, 23, 59)):
        assert by_name.data_interval_for(moment) == by_cron.data_interval_for(moment)


def test_parse_cron_expression() -> None:
    assert parse_schedule("0 */4 * * *") == CronSchedule("0 */4 * * *")
    assert parse_schedule("  0  2 * * * ") == CronSchedule("0 2 * * *")


def test_parse_timedelta() -> None:
    assert parse_schedule(timedelta(hours=6)) == DeltaSchedule(timedelta(hours=6))


def test_parse_passes_schedules_through() -> None:
    schedule = CronSchedule("5 4 * * *")
    assert parse_schedule(schedule) is schedule


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("@fortnightly", "unknown schedule preset '@fortnightly'; expected one of: @once, @hourly"),
        ("@continuous", "unknown schedule preset '@continuous'"),
        ("bogus", "invalid cron expression 'bogus': expected 5 fields"),
        ("0 0 * *", "invalid cron expression '0 0 \\* \\*': expected 5 fields .* got 4"),
        ("* * * * * *", "expected 5 fields .* got 6"),
        ("61 * * * *", "invalid cron expression '61 \\* \\* \\* \\*'"),
        ("0 25 * * *", "invalid cron expression '0 25"),
        ("*/0 * * * *", "invalid cron expression"),
        ("0 0 30 2 *", "cron expression '0 0 30 2 \\*' never matches any date"),
        ("", "schedule is an empty string"),
        ("   ", "schedule is an empty string"),
        (timedelta(0), "schedule timedelta must be positive, got 0:00:00"),
        (timedelta(hours=-1), "schedule timedelta must be positive"),
        (3600, "unsupported schedule 3600 of type int"),
        (True, "unsupported schedule True of type bool"),
        (["@daily"], "unsupported schedule \\['@daily'\\] of type list"),
        (d(2026, 1, 1), "unsupported schedule .* of type datetime"),
    ],
)
def test_parse_rejects_bad_schedules(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule(value)  # type: ignore[arg-type]


def test_schedule_classes_validate_directly() -> None:
    with pytest.raises(ValueError, match="must be a timedelta"):
        DeltaSchedule(3600)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be a string"):
        CronSchedule(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown schedule preset '@once'"):
        CronSchedule("@once")


def test_schedules_are_comparable_and_hashable() -> None:
    assert CronSchedule("0 0 * * *") == CronSchedule("0 0 * * *")
    assert CronSchedule("0 0 * * *") != CronSchedule("0 1 * * *")
    assert len({DAILY, CronSchedule("0 0 * * *"), OnceSchedule(), NoSchedule()}) == 3
    assert isinstance(DAILY, Schedule)


# ---------------------------------------------------------------- cron: data_interval_for


def test_daily_interval_for_aligned_date() -> None:
    assert DAILY.data_interval_for(d(2026, 1, 1)) == iv(d(2026, 1, 1), d(2026, 1, 2))


def test_daily_interval_for_unaligned_date_is_the_one_containing_it() -> None:
    assert DAILY.data_interval_for(d(2026, 1, 1, 15, 30)) == iv(d(2026, 1, 1), d(2026, 1, 2))
    assert DAILY.data_interval_for(
        d(2026, 1, 1, 23, 59, 59) + timedelta(microseconds=999999)
    ) == iv(d(2026, 1, 1), d(2026, 1, 2))


def test_interval_for_naive_date_is_utc() -> None:
    assert DAILY.data_interval_for(datetime(2026, 1, 1)) == iv(d(2026, 1, 1), d(2026, 1, 2))


@pytest.mark.parametrize(
    ("expression", "logical", "expected"),
    [
        ("0 * * * *", d(2026, 1, 1, 5), iv(d(2026, 1, 1, 5), d(2026, 1, 1, 6))),
        ("0 * * * *", d(2026, 1, 1, 23, 30), iv(d(2026, 1, 1, 23), d(2026, 1, 2))),
        ("0 */4 * * *", d(2026, 1, 1, 4), iv(d(2026, 1, 1, 4), d(2026, 1, 1, 8))),
        ("0 */4 * * *", d(2026, 1, 1, 22), iv(d(2026, 1, 1, 20), d(2026, 1, 2))),
        ("0 2 * * *", d(2026, 1, 1, 2), iv(d(2026, 1, 1, 2), d(2026, 1, 2, 2))),
        ("0 2 * * *", d(2026, 1, 1, 1), iv(d(2025, 12, 31, 2), d(2026, 1, 1, 2))),
        ("@weekly", d(2026, 1, 7), iv(d(2026, 1, 4), d(2026, 1, 11))),  # Sundays
        ("@monthly", d(2026, 1, 31), iv(d(2026, 1, 1), d(2026, 2, 1))),
        ("@monthly", d(2026, 2, 1), iv(d(2026, 2, 1), d(2026, 3, 1))),
        ("@monthly", d(2026, 12, 15), iv(d(2026, 12, 1), d(2027, 1, 1))),
        ("@yearly", d(2026, 6, 1), iv(d(2026, 1, 1), d(2027, 1, 1))),
        ("@quarterly", d(2026, 5, 5), iv(d(2026, 4, 1), d(2026, 7, 1))),
        ("0 0 29 2 *", d(2025, 1, 1), iv(d(2024, 2, 29), d(2028, 2, 29))),
    ],
)
def test_cron_interval_for(expression: str, logical: datetime, expected: DataInterval) -> None:
    assert CronSchedule(expression).data_interval_for(logical) == expected


# ---------------------------------------------------------------- cron: due runs


def test_daily_catchup_creates_every_missed_interval() -> None:
    missed = DAILY.missed_intervals(None, d(2026, 1, 1), None, True, d(2026, 1, 4, 1))
    assert missed == days(1, 2, 3)


def test_daily_without_catchup_creates_only_the_latest() -> None:
    missed = DAILY.missed_intervals(None, d(2026, 1, 1), None, False, d(2026, 1, 4, 1))
    assert missed == days(3)


def test_next_interval_one_at_a_time() -> None:
    now = d(2026, 1, 4, 1)
    first = DAILY.next_interval(None, d(2026, 1, 1), None, True, now)
    assert first == days(1)[0]
    second = DAILY.next_interval(first, d(2026, 1, 1), None, True, now)
    assert second == days(2)[0]
    third = DAILY.next_interval(second, d(2026, 1, 1), None, True, now)
    assert third == days(3)[0]
    assert DAILY.next_interval(third, d(2026, 1, 1), None, True, now) is None


def test_run_is_due_exactly_when_its_interval_ends() -> None:
    start = d(2026, 1, 1)
    assert DAILY.next_interval(None, start, None, True, d(2026, 1, 1, 23, 59)) is None
    assert DAILY.next_interval(None, start, None, True, d(2026, 1, 2)) == days(1)[0]


def test_unaligned_start_date_begins_at_the_next_tick() -> None:
    missed = DAILY.missed_intervals(None, d(2026, 1, 1, 9, 30), None, True, d(2026, 1, 4, 1))
    assert missed == days(2, 3)


def test_no_start_date_and_no_history_schedules_nothing() -> None:
    assert DAILY.next_interval(None, None, None, True, d(2026, 1, 4)) is None
    assert DAILY.missed_intervals(None, None, None, False, d(2026, 1, 4)) == []


def test_continues_from_last_without_start_date() -> None:
    last = days(1)[0]
    assert DAILY.missed_intervals(last, None, None, True, d(2026, 1, 3, 5)) == days(2)


def test_continues_from_last_run() -> None:
    last = days(2)[0]
    assert DAILY.missed_intervals(last, d(2026, 1, 1), None, True, d(2026, 1, 5)) == days(3, 4)


def test_continues_from_unaligned_last_end_at_the_next_tick() -> None:
    last = iv(d(2026, 1, 1, 6), d(2026, 1, 2, 6))
    assert DAILY.next_interval(last, d(2026, 1, 1), None, True, d(2026, 1, 5)) == days(3)[0]


def test_catchup_false_skips_ahead_of_an_old_last_run() -> None:
    last = days(1)[0]
    assert DAILY.missed_intervals(last, d(2026, 1, 1), None, False, d(2026, 1, 10, 12)) == days(9)


def test_catchup_false_never_goes_back_before_last() -> None:
    last = days(9)[0]
    assert DAILY.next_interval(last, d(2026, 1, 1), None, False, d(2026, 1, 10, 12)) is None


def test_catchup_false_never_goes_before_start_date() -> None:
    start = d(2026, 1, 10)
    assert DAILY.next_interval(None, start, None, False, d(2026, 1, 10, 12)) is None
    assert DAILY.next_interval(None, start, None, False, d(2026, 1, 11)) == days(10)[0]


def test_catchup_false_with_start_date_in_the_future() -> None:
    assert DAILY.missed_intervals(None, d(2027, 1, 1), None, False, d(2026, 1, 10)) == []
    assert DAILY.missed_intervals(None, d(2027, 1, 1), None, True, d(2026, 1, 10)) == []


def test_catchup_false_at_an_exact_tick() -> None:
    assert DAILY.missed_intervals(None, d(2026, 1, 1), None, False, d(2026, 1, 5)) == days(4)


def test_end_date_stops_the_schedule() -> None:
    missed = DAILY.missed_intervals(None, d(2026, 1, 1), d(2026, 1, 3), True, d(2026, 1, 10))
    # an interval starting exactly at end_date still runs
    assert missed == days(1, 2, 3)
    last = missed[-1]
    assert DAILY.next_interval(last, d(2026, 1, 1), d(2026, 1, 3), True, d(2026, 2, 1)) is None


def test_end_date_with_catchup_false() -> None:
    missed = DAILY.missed_intervals(None, d(2026, 1, 1), d(2026, 1, 3), False, d(2026, 1, 10))
    assert missed == []
    missed = DAILY.missed_intervals(None, d(2026, 1, 1), d(2026, 1, 3, 12), False, d(2026, 1, 4))
    assert missed == days(3)


def test_missed_intervals_limit_keeps_the_oldest() -> None:
    start, now = d(2026, 1, 1), d(2026, 1, 10)
    assert DAILY.missed_intervals(None, start, None, True, now, limit=2) == days(1, 2)
    assert DAILY.missed_intervals(None, start, None, True, now, limit=0) == []
    assert DAILY.missed_intervals(None, start, None, True, now, limit=1) == days(1)
    assert DAILY.missed_intervals(None, start, None, False, now, limit=0) == []


def test_hourly_catchup() -> None:
    hourly = parse_schedule("@hourly")
    missed = hourly.missed_intervals(None, d(2026, 1, 1, 22), None, True, d(2026, 1, 2, 1, 30))
    assert missed == [
        iv(d(2026, 1, 1, 22), d(2026, 1, 1, 23)),
        iv(d(2026, 1, 1, 23), d(2026, 1, 2)),
        iv(d(2026, 1, 2), d(2026, 1, 2, 1)),
    ]


def test_every_four_hours() -> None:
    every4 = CronSchedule("0 */4 * * *")
    missed = every4.missed_intervals(None, d(2026, 1, 1, 1), None, True, d(2026, 1, 2, 1))
    assert [i.start.hour for i in missed] == [4, 8, 12, 16, 20]
    assert missed[-1].end == d(2026, 1, 2)
    latest = every4.missed_intervals(None, d(2026, 1, 1, 1), None, False, d(2026, 1, 2, 1))
    assert latest == [iv(d(2026, 1, 1, 20), d(2026, 1, 2))]


def test_daily_at_two() -> None:
    at2 = CronSchedule("0 2 * * *")
    missed = at2.missed_intervals(None, d(2026, 1, 1), None, True, d(2026, 1, 3, 3))
    assert missed == [
        iv(d(2026, 1, 1, 2), d(2026, 1, 2, 2)),
        iv(d(2026, 1, 2, 2), d(2026, 1, 3, 2)),
    ]
    assert at2.next_run_after(d(2026, 1, 3, 3)) == d(2026, 1, 4, 2)


def test_monthly_crosses_month_and_year_boundaries() -> None:
    monthly = parse_schedule("@monthly")
    missed = monthly.missed_intervals(None, d(2025, 11, 1), None, True, d(2026, 3, 15))
    assert missed == [
        iv(d(2025, 11, 1), d(2025, 12, 1)),
        iv(d(2025, 12, 1), d(2026, 1, 1)),
        iv(d(2026, 1, 1), d(2026, 2, 1)),
        iv(d(2026, 2, 1), d(2026, 3, 1)),
    ]


def test_daily_over_a_month_end_and_leap_day() -> None:
    missed = DAILY.missed_intervals(None, d(2028, 2, 27), None, True, d(2028, 3, 2))
    assert [i.start for i in missed] == [
        d(2028, 2, 27),
        d(2028, 2, 28),
        d(2028, 2, 29),
        d(2028, 3, 1),
    ]


def test_last_day_of_month_cron() -> None:
    eom = CronSchedule("0 0 L * *")
    missed = eom.missed_intervals(None, d(2026, 1, 1), None, True, d(2026, 4, 1))
    assert missed == [
        iv(d(2026, 1, 31), d(2026, 2, 28)),
        iv(d(2026, 2, 28), d(2026, 3, 31)),
    ]


def test_weekly_catchup_false() -> None:
    weekly = parse_schedule("@weekly")
    # 2026-01-04 and 2026-01-11 are Sundays
    latest = weekly.missed_intervals(None, d(2025, 12, 1), None, False, d(2026, 1, 14))
    assert latest == [iv(d(2026, 1, 4), d(2026, 1, 11))]


def test_cron_next_run_after() -> None:
    assert DAILY.next_run_after(d(2026, 1, 4, 1)) == d(2026, 1, 5)
    assert DAILY.next_run_after(d(2026, 1, 5)) == d(2026, 1, 6)  # strictly after
    assert DAILY.next_run_after(datetime(2026, 1, 4, 1)) == d(2026, 1, 5)


def test_cron_next_run_after_respects_start_and_end() -> None:
    # the first run covers [Jan 10, Jan 11) and is due on Jan 11
    assert DAILY.next_run_after(d(2026, 1, 1), start_date=d(2026, 1, 10)) == d(2026, 1, 11)
    assert DAILY.next_run_after(d(2026, 1, 1), start_date=d(2026, 1, 9, 12)) == d(2026, 1, 11)
    assert DAILY.next_run_after(d(2026, 1, 3, 5), end_date=d(2026, 1, 3)) == d(2026, 1, 4)
    assert DAILY.next_run_after(d(2026, 1, 4, 5), end_date=d(2026, 1, 3)) is None


def test_cron_far_future_ends_gracefully() -> None:
    assert DAILY.next_run_after(datetime(9999, 12, 31, 1, tzinfo=UTC)) is None
    last = iv(datetime(9999, 12, 30, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))
    assert DAILY.next_interval(last, None, None, True, datetime.max.replace(tzinfo=UTC)) is None


# ---------------------------------------------------------------- timedelta schedules

SIX_HOURS = DeltaSchedule(timedelta(hours=6))


def test_delta_interval_for() -> None:
    assert SIX_HOURS.data_interval_for(d(2026, 1, 1, 3)) == iv(d(2026, 1, 1, 3), d(2026, 1, 1, 9))


def test_delta_intervals_start_at_start_date() -> None:
    start = d(2026, 1, 1, 1, 15)
    missed = SIX_HOURS.missed_intervals(None, start, None, True, d(2026, 1, 2, 1))
    assert missed == [
        iv(d(2026, 1, 1, 1, 15), d(2026, 1, 1, 7, 15)),
        iv(d(2026, 1, 1, 7, 15), d(2026, 1, 1, 13, 15)),
        iv(d(2026, 1, 1, 13, 15), d(2026, 1, 1, 19, 15)),
    ]


def test_delta_catchup_false_takes_the_latest_grid_interval() -> None:
    start = d(2026, 1, 1, 1, 15)
    latest = SIX_HOURS.missed_intervals(None, start, None, False, d(2026, 1, 2, 1))
    assert latest == [iv(d(2026, 1, 1, 13, 15), d(2026, 1, 1, 19, 15))]
    assert SIX_HOURS.next_interval(None, start, None, False, d(2026, 1, 1, 7)) is None
    assert SIX_HOURS.next_interval(None, start, None, False, d(2026, 1, 1, 7, 15)) == iv(
        start, d(2026, 1, 1, 7, 15)
    )


def test_delta_continues_from_last() -> None:
    start = d(2026, 1, 1)
    last = iv(d(2026, 1, 1, 6), d(2026, 1, 1, 12))
    assert SIX_HOURS.missed_intervals(last, start, None, True, d(2026, 1, 2)) == [
        iv(d(2026, 1, 1, 12), d(2026, 1, 1, 18)),
        iv(d(2026, 1, 1, 18), d(2026, 1, 2)),
    ]


def test_delta_realigns_an_off_grid_last_to_the_grid() -> None:
    start = d(2026, 1, 1)
    last = iv(d(2026, 1, 1, 5), d(2026, 1, 1, 7))
    assert SIX_HOURS.next_interval(last, start, None, True, d(2026, 1, 2)) == iv(
        d(2026, 1, 1, 12), d(2026, 1, 1, 18)
    )


def test_delta_without_start_date_anchors_on_last() -> None:
    last = iv(d(2026, 1, 1, 5), d(2026, 1, 1, 11))
    assert SIX_HOURS.next_interval(last, None, None, True, d(2026, 1, 2)) == iv(
        d(2026, 1, 1, 11), d(2026, 1, 1, 17)
    )
    assert SIX_HOURS.next_interval(None, None, None, True, d(2026, 1, 2)) is None


def test_delta_last_before_start_date_restarts_at_start_date() -> None:
    last = iv(d(2025, 12, 1), d(2025, 12, 1, 6))
    assert SIX_HOURS.next_interval(last, d(2026, 1, 1), None, True, d(2026, 1, 2)) == iv(
        d(2026, 1, 1), d(2026, 1, 1, 6)
    )


def test_delta_end_date() -> None:
    start = d(2026, 1, 1)
    missed = SIX_HOURS.missed_intervals(None, start, d(2026, 1, 1, 6), True, d(2026, 2, 1))
    assert missed == [iv(start, d(2026, 1, 1, 6)), iv(d(2026, 1, 1, 6), d(2026, 1, 1, 12))]


def test_delta_next_run_after() -> None:
    start = d(2026, 1, 1)
    assert SIX_HOURS.next_run_after(d(2026, 1, 1, 7), start_date=start) == d(2026, 1, 1, 12)
    assert SIX_HOURS.next_run_after(d(2026, 1, 1, 12), start_date=start) == d(2026, 1, 1, 18)
    assert SIX_HOURS.next_run_after(d(2025, 1, 1), start_date=start) == d(2026, 1, 1, 6)
    assert SIX_HOURS.next_run_after(d(2026, 1, 1, 7)) == d(2026, 1, 1, 13)
    assert (
        SIX_HOURS.next_run_after(d(2026, 1, 1, 7), start_date=start, end_date=d(2026, 1, 1, 5))
        is None
    )
    assert SIX_HOURS.next_run_after(
        d(2026, 1, 1, 7), start_date=start, end_date=d(2026, 1, 1, 6)
    ) == d(2026, 1, 1, 12)


def test_delta_far_future_ends_gracefully() -> None:
    huge = DeltaSchedule(timedelta(days=5000))
    start = datetime(9980, 1, 1, tzinfo=UTC)
    assert huge.next_run_after(datetime(9999, 1, 1, tzinfo=UTC), start_date=start) is None
    last = iv(start, start + timedelta(days=5000))
    far = datetime.max.replace(tzinfo=UTC)
    assert huge.next_interval(last, start, None, True, far) is None


def test_one_day_delta_matches_daily_cron_from_midnight() -> None:
    delta_days = DeltaSchedule(timedelta(days=1))
    start, now = d(2026, 1, 28), d(2026, 2, 3, 5)
    for catchup in (True, False):
        assert delta_days.missed_intervals(None, start, None, catchup, now) == (
            DAILY.missed_intervals(None, start, None, catchup, now)
        )


# ---------------------------------------------------------------- once and manual-only

ONCE = OnceSchedule()
MANUAL = NoSchedule()


def test_once_runs_once_when_start_date_passes() -> None:
    start = d(2026, 1, 1, 9)
    assert ONCE.next_interval(None, start, None, True, d(2026, 1, 1, 8)) is None
    assert ONCE.next_interval(None, start, None, False, d(2026, 1, 1, 9)) == iv(start, start)
    assert ONCE.missed_intervals(None, start, None, True, d(2030, 1, 1)) == [iv(start, start)]
    assert ONCE.missed_intervals(None, start, None, False, d(2030, 1, 1)) == [iv(start, start)]
    assert ONCE.next_interval(iv(start, start), start, None, True, d(2030, 1, 1)) is None
    assert ONCE.missed_intervals(iv(start, start), start, None, True, d(2030, 1, 1)) == []


def test_once_needs_a_start_date() -> None:
    assert ONCE.next_interval(None, None, None, True, d(2030, 1, 1)) is None
    assert ONCE.next_run_after(d(2026, 1, 1)) is None


def test_once_respects_end_date() -> None:
    start = d(2026, 1, 2)
    assert ONCE.next_interval(None, start, d(2026, 1, 1), True, d(2030, 1, 1)) is None
    assert ONCE.next_run_after(d(2025, 1, 1), start_date=start, end_date=d(2026, 1, 1)) is None


def test_once_next_run_after() -> None:
    start = d(2026, 1, 2)
    assert ONCE.next_run_after(d(2026, 1, 1), start_date=start) == start
    assert ONCE.next_run_after(start, start_date=start) is None


def test_once_and_manual_intervals_are_points() -> None:
    moment = d(2026, 1, 1, 12, 34)
    assert ONCE.data_interval_for(moment) == iv(moment, moment)
    assert MANUAL.data_interval_for(datetime(2026, 1, 1, 12, 34)) == iv(moment, moment)


def test_manual_only_never_schedules() -> None:
    start = d(2020, 1, 1)
    assert MANUAL.next_interval(None, start, None, True, d(2030, 1, 1)) is None
    assert MANUAL.missed_intervals(None, start, None, True, d(2030, 1, 1)) == []
    assert MANUAL.missed_intervals(None, start, None, False, d(2030, 1, 1)) == []
    assert MANUAL.next_run_after(d(2026, 1, 1), start_date=start) is None


# ---------------------------------------------------------------- properties

CRONS = ["0 0 * * *", "0 * * * *", "0 */4 * * *", "0 2 * * *", "30 6 * * 1-5", "15 */6 1,15 * *"]

moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))
deltas = st.sampled_from(
    [
        timedelta(minutes=45),
        timedelta(hours=1),
        timedelta(hours=5),
        timedelta(days=1),
        timedelta(days=2, hours=3),
    ]
)
schedules = st.one_of(st.sampled_from(CRONS).map(CronSchedule), deltas.map(DeltaSchedule))


def _check_tiling(missed: list[DataInterval], start: datetime, now: datetime) -> None:
    for interval in missed:
        assert interval.start >= start
        assert interval.end <= now
        assert interval.start < interval.end
    for before, after in itertools.pairwise(missed):
        assert after.start == before.end  # contiguous, hence non-overlapping


@settings(max_examples=60, deadline=None)
@given(schedules, moments, spans)
def test_catchup_intervals_tile_time_from_start_date_to_now(
    schedule: Schedule, start: datetime, span: timedelta
) -> None:
    now = start + span
    missed = schedule.missed_intervals(None, start, None, True, now)
    _check_tiling(missed, start, now)
    last = missed[-1] if missed else None
    # nothing else is due
    assert schedule.next_interval(last, start, None, True, now) is None
    # the first interval is the first one at or after start_date
    if missed:
        assert missed[0] == schedule.next_interval(None, start, None, True, now)
        if isinstance(schedule, DeltaSchedule):
            assert missed[0].start == start
            for interval in missed:
                assert (interval.start - start) % schedule.delta == timedelta(0)
                assert interval.end - interval.start == schedule.delta
        else:
            assert schedule.data_interval_for(missed[0].start) == missed[0]


@settings(max_examples=60, deadline=None)
@given(schedules, moments, spans, spans)
def test_catchup_is_the_same_in_one_step_or_two(
    schedule: Schedule, start: datetime, first: timedelta, second: timedelta
) -> None:
    middle, now = start + first, start + first + second
    early = schedule.missed_intervals(None, start, None, True, middle)
    late = schedule.missed_intervals(early[-1] if early else None, start, None, True, now)
    assert early + late == schedule.missed_intervals(None, start, None, True, now)


@settings(max_examples=60, deadline=None)
@given(schedules, moments, spans)
def test_without_catchup_only_the_latest_ended_interval_runs(
    schedule: Schedule, start: datetime, span: timedelta
) -> None:
    now = start + span
    everything = schedule.missed_intervals(None, start, None, True, now)
    latest = schedule.missed_intervals(None, start, None, False, now)
    assert latest == everything[-1:]


@settings(max_examples=60, deadline=None)
@given(schedules, moments, spans, st.integers(min_value=0, max_value=5))
def test_limit_gives_a_prefix(
    schedule: Schedule, start: datetime, span: timedelta, limit: int
) -> None:
    now = start + span
    everything = schedule.missed_intervals(None, start, None, True, now)
    assert (
        schedule.missed_intervals(None, start, None, True, now, limit=limit) == (everything[:limit])
    )


@settings(max_examples=60, deadline=None)
@given(schedules, moments, spans, spans)
def test_end_date_bounds_interval_starts(
    schedule: Schedule, start: datetime, span: timedelta, until: timedelta
) -> None:
    now, end = start + span, start + until
    bounded = schedule.missed_intervals(None, start, end, True, now)
    everything = schedule.missed_intervals(None, start, None, True, now)
    assert bounded == [interval for interval in everything if interval.start <= end]


@settings(max_examples=60, deadline=None)
@given(schedules, moments, spans)
def test_next_run_after_is_when_the_next_run_becomes_due(
    schedule: Schedule, start: datetime, span: timedelta
) -> None:
    moment = start + span
    due_at = schedule.next_run_after(moment, start_date=start)
    assert due_at is not None
    assert due_at > moment
    before = schedule.missed_intervals(None, start, None, True, moment)
    just_before = schedule.missed_intervals(
        None, start, None, True, due_at - timedelta(microseconds=1)
    )
    at = schedule.missed_intervals(None, start, None, True, due_at)
    assert just_before == before
    assert len(at) == len(before) + 1
    assert at[-1].end == due_at


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CRONS).map(CronSchedule), moments)
def test_cron_interval_for_contains_the_logical_date(
    schedule: CronSchedule, logical: datetime
) -> None:
    interval = schedule.data_interval_for(logical)
    assert interval.start <= logical < interval.end
    assert schedule.data_interval_for(interval.start) == interval
    following = schedule.data_interval_for(interval.end)
    assert following.start == interval.end


@settings(max_examples=30, deadline=None)
@given(schedules, moments, spans)
def test_naive_and_aware_inputs_agree(schedule: Schedule, start: datetime, span: timedelta) -> None:
    assume(start.tzinfo is UTC)
    now = start + span
    naive = schedule.missed_intervals(
        None, start.replace(tzinfo=None), None, True, now.replace(tzinfo=None)
    )
    assert naive == schedule.missed_intervals(None, start, None, True, now)
