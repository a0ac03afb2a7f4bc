"""Tests of the data interval a run triggered by hand covers (Airflow's inferred interval)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from millstream.model.cron import CronSchedule
from millstream.model.intervals import DataInterval, DeltaSchedule, NoSchedule, OnceSchedule


def d(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=UTC)


def test_a_manual_cron_run_covers_the_last_complete_interval() -> None:
    # The reported case: a 0 6 * * * DAG triggered at 08:54 on 12-06.
    interval = CronSchedule("0 6 * * *").manual_data_interval(d(6, 8, 54))
    assert interval == DataInterval(d(5, 6), d(6, 6))
    assert interval.end <= d(6, 8, 54)


def test_a_manual_cron_run_on_a_tick_ends_at_that_tick() -> None:
    assert CronSchedule("0 6 * * *").manual_data_interval(d(6, 6)) == DataInterval(d(5, 6),
                                                                                     d(6, 6))
    assert CronSchedule("@hourly").manual_data_interval(d(6, 9)) == DataInterval(d(6, 8), d(6, 9))


def test_a_manual_cron_run_before_the_day_s_tick_covers_the_day_before_yesterday() -> None:
    assert CronSchedule("0 6 * * *").manual_data_interval(d(6, 5, 59)) == DataInterval(
        d(4, 6), d(5, 6))


def test_a_manual_delta_run_covers_the_delta_that_just_ended() -> None:
    schedule = DeltaSchedule(timedelta(hours=4))
    assert schedule.manual_data_interval(d(6, 8, 54)) == DataInterval(d(6, 4, 54), d(6, 8, 54))


def test_manual_runs_without_a_period_cover_the_moment_itself() -> None:
    for schedule in (OnceSchedule(), NoSchedule()):
        assert schedule.manual_data_interval(d(6, 8, 54)) == DataInterval(d(6, 8, 54),
                                                                          d(6, 8, 54))


def test_naive_moments_are_utc() -> None:
    naive = datetime(2026, 12, 6, 8, 54)
    assert CronSchedule("0 6 * * *").manual_data_interval(naive) == DataInterval(d(5, 6), d(6, 6))


CRONS = ["0 6 * * *", "*/15 * * * *", "0 0 * * 0", "30 2 1 * *", "0 9-17 * * 1-5"]
moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1),
                       timezones=st.just(UTC))


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(CRONS), moments)
def test_a_manual_cron_interval_is_the_latest_complete_scheduled_interval(
    cron: str, moment: datetime
) -> None:
    schedule = CronSchedule(cron)
    interval = schedule.manual_data_interval(moment)
    assert interval.end <= moment
    # one of the schedule's own intervals ...
    assert schedule.data_interval_for(interval.start) == interval
    # ... and the latest of them to have ended: the next one has not
    assert schedule.data_interval_for(interval.end).end > moment


@pytest.mark.parametrize("hours", [1, 24, 24 * 7])
def test_a_manual_delta_interval_is_one_delta_long(hours: int) -> None:
    delta = timedelta(hours=hours)
    interval = DeltaSchedule(delta).manual_data_interval(d(6, 8, 54))
    assert interval.end - interval.start == delta and interval.end == d(6, 8, 54)
