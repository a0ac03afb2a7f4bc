"""A cron schedule's ticks are kept per expression and moment: kept answers are the right ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from millstream.model import cron as cron_module
from millstream.model.cron import CronSchedule
from millstream.model.intervals import DataInterval

CRONS = ["* * * * *", "0 * * * *", "30 * * * *", "0 0 * * *", "15 */6 1,15 * *"]
moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1),
                       timezones=st.just(UTC))


def _next(cron: str, moment: datetime) -> datetime:
    return croniter(cron, moment).get_next(datetime).astimezone(UTC)


def _previous(cron: str, moment: datetime) -> datetime:
    return croniter(cron, moment).get_prev(datetime).astimezone(UTC)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(CRONS), min_size=2, max_size=6), moments)
def test_each_schedule_gets_its_own_ticks_at_a_shared_moment(
    crons: list[str], moment: datetime
) -> None:
    for _ in range(2):  # the second time, the ticks kept the first time are used
        for cron in crons:
            schedule = CronSchedule(cron)
            assert schedule.next_run_after(moment) == _next(cron, moment)
            interval = schedule.data_interval_for(moment)
            start = moment if _next(cron, _previous(cron, moment)) == moment else (
                _previous(cron, moment))
            assert interval == DataInterval(start, _next(cron, start))


def test_a_moment_of_another_zone_gets_the_ticks_of_its_zone() -> None:
    daily = CronSchedule("0 0 * * *")
    tokyo = datetime(2026, 1, 1, 21, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 12:00 UTC
    noon = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert daily._tick_after(noon) == datetime(2026, 1, 2, tzinfo=UTC)
    # The same instant, but midnight in Tokyo comes first: it is not taken for UTC's.
    assert daily._tick_after(tokyo) == datetime(2026, 1, 1, 15, tzinfo=UTC)
    assert daily._tick_after(noon) == datetime(2026, 1, 2, tzinfo=UTC)
    assert daily._tick_at_or_before(tokyo) == datetime(2025, 12, 31, 15, tzinfo=UTC)
    assert daily._tick_at_or_after(noon + timedelta(hours=12)) == datetime(2026, 1, 2, tzinfo=UTC)


def test_dags_on_the_same_schedule_share_the_ticks_of_a_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[datetime] = []
    ticks = cron_module._ticks

    def counted(cron: str, moment: datetime) -> Any:
        asked.append(moment)
        return ticks(cron, moment)

    monkeypatch.setattr(cron_module, "_ticks", counted)
    start = datetime(2031, 5, 1, tzinfo=UTC)
    now = datetime(2031, 5, 5, 12, 0, 30, tzinfo=UTC)  # a moment no other test asks about
    last = DataInterval(now - timedelta(minutes=2, seconds=30),
                        now - timedelta(minutes=1, seconds=30))
    for _ in range(100):  # a hundred DAGs due in the same round
        schedule = CronSchedule("* * * * *")
        assert schedule.missed_intervals(last, start, None, False, now) == [
            DataInterval(now - timedelta(minutes=1, seconds=30), now - timedelta(seconds=30))]
        assert schedule.next_run_after(now, start_date=start) == now + timedelta(seconds=30)
    assert len(asked) < 10  # the first DAG's questions; the others' answers are kept
