"""The charts' shapes: bars by run duration, a line per slow task, a calendar of days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.ui.charts import HEIGHT, calendar, run_duration_chart, task_duration_chart

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def run(day: int, seconds: float | None, state: DagRunState = DagRunState.SUCCESS
        ) -> DagRunRecord:
    moment = DAY + timedelta(days=day)
    end = moment + timedelta(seconds=seconds) if seconds is not None else None
    return DagRunRecord("c", f"r{day}", moment, moment, moment, state=state, start_date=moment,
                        end_date=end)


def ti(day: int, task: str, seconds: float) -> TaskInstanceRecord:
    moment = DAY + timedelta(days=day)
    return TaskInstanceRecord("c", f"r{day}", task, state=TaskState.SUCCESS, try_number=1,
                              start_date=moment, end_date=moment + timedelta(seconds=seconds))


def test_bars_are_oldest_left_and_as_tall_as_the_run_took() -> None:
    bars, axis = run_duration_chart([run(2, 30.0), run(0, 60.0), run(1, None,
                                                                     DagRunState.RUNNING)])
    assert [b.run.run_id for b in bars] == ["r0", "r1", "r2"]
    assert axis.top == 60.0 and [t.seconds for t in axis.ticks] == [0, 15, 30, 45, 60]
    assert bars[0].x < bars[1].x < bars[2].x
    assert bars[0].height == 2 * bars[2].height  # 60 s against 30 s
    assert bars[1].height == 2.0 and bars[1].seconds is None  # still running: a stub
    assert bars[0].y + bars[0].height == HEIGHT - 24.0  # standing on the axis


def test_a_line_per_slowest_task_with_gaps_where_it_did_not_run() -> None:
    runs = [run(d, 100.0) for d in range(3)]
    instances = [ti(0, "slow", 50.0), ti(2, "slow", 40.0), ti(0, "fast", 1.0),
                 ti(1, "fast", 2.0), ti(2, "fast", 3.0)]
    series, axis, xs = task_duration_chart(runs, instances, limit=2)
    assert [s.task_id for s in series] == ["slow", "fast"]
    assert axis.top == 60.0
    slow = series[0]
    assert slow.path.startswith(f"M{xs[0]},") and f" M{xs[2]}," in slow.path  # a gap at r1
    assert "L" in series[1].path and [p[2] for p in series[1].points] == ["r0", "r1", "r2"]
    only_one, _, _ = task_duration_chart(runs, instances, limit=1)
    assert [s.task_id for s in only_one] == ["slow"]


def test_the_calendar_colours_each_day_by_its_most_urgent_run_state() -> None:
    today = date(2026, 12, 5)  # a Saturday
    days, months, width = calendar([
        (date(2026, 12, 1), DagRunState.SUCCESS, 3), (date(2026, 12, 1), DagRunState.FAILED, 1),
        (date(2026, 12, 4), DagRunState.SUCCESS, 2)], today, weeks=4)
    by_day = {d.day: d for d in days}
    assert by_day[date(2026, 12, 1)].state == "failed"
    assert by_day[date(2026, 12, 1)].counts == [("failed", 1), ("success", 3)]
    assert by_day[date(2026, 12, 4)].state == "success"
    assert by_day[date(2026, 12, 2)].state == "none"
    assert max(by_day) == today and min(by_day) == date(2026, 11, 9)  # 4 weeks, Mondays first
    assert by_day[date(2026, 12, 1)].y > by_day[date(2026, 11, 30)].y  # Tuesday below Monday
    assert [name for _, name in months] == ["Nov"] and width > 0  # by the weeks' Mondays
