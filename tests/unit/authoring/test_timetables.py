"""Timetables written to Airflow's interface, as a DAG's schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from millstream import DAG
from millstream.authoring.timetables import (
    CronTriggerTimetable,
    DagRunInfo,
    DataInterval,
    TimeRestriction,
    Timetable,
    TimetableSchedule,
)
from millstream.compat.airflow_example_plugins import AfterWorkdayTimetable
from millstream.model.intervals import DataInterval as Interval
from millstream.parsing.serialize import DagStructure, serialize_dag


class EveryTwoHours(Timetable):
    def infer_manual_data_interval(self, *, run_after):
        return DataInterval(run_after - timedelta(hours=2), run_after)

    def next_dagrun_info(self, *, last_automated_data_interval, restriction):
        if last_automated_data_interval is not None:
            start = last_automated_data_interval.end
        elif restriction.earliest is None:
            return None
        else:
            start = restriction.earliest
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start, start + timedelta(hours=2))


START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


def test_a_user_timetable_is_the_dags_schedule() -> None:
    dag = DAG("custom", schedule=EveryTwoHours(), start_date=START, catchup=True)
    schedule = dag.timetable
    assert isinstance(schedule, TimetableSchedule)
    first = schedule.next_interval(None, START, None, True, START + timedelta(hours=5))
    assert first == Interval(START, START + timedelta(hours=2))
    second = schedule.next_interval(first, START, None, True, START + timedelta(hours=5))
    assert second == Interval(START + timedelta(hours=2), START + timedelta(hours=4))
    # not due before its interval has ended
    assert schedule.next_interval(second, START, None, True, START + timedelta(hours=5)) is None
    assert schedule.data_interval_for(START) == Interval(START - timedelta(hours=2), START)
    assert dag.test(logical_date=START).state == "success"


def test_a_timetable_defined_in_the_dag_file_cannot_go_to_the_scheduler() -> None:
    dag = DAG("custom_local", schedule=EveryTwoHours(), start_date=START)
    structure = DagStructure(serialize_dag(dag))  # importable: defined in this test module
    assert structure.timetable.next_interval(None, START, None, True, START + timedelta(
        hours=3)) == Interval(START, START + timedelta(hours=2))

    class Local(EveryTwoHours):
        pass

    with pytest.raises(ValueError, match="plugins folder"):
        serialize_dag(DAG("custom_inner", schedule=Local(), start_date=START))


def test_after_workday_skips_weekends() -> None:
    timetable = AfterWorkdayTimetable()
    friday = DataInterval(datetime(2026, 1, 9, tzinfo=UTC), datetime(2026, 1, 10, tzinfo=UTC))
    info = timetable.next_dagrun_info(last_automated_data_interval=friday,
                                      restriction=TimeRestriction(START, None, True))
    assert info is not None
    assert info.data_interval.start == datetime(2026, 1, 12, tzinfo=UTC)  # Monday
    manual = timetable.infer_manual_data_interval(run_after=datetime(2026, 1, 11, 8, tzinfo=UTC))
    assert manual.start == datetime(2026, 1, 9, tzinfo=UTC)  # Sunday morning: Friday


def test_cron_trigger_timetable_runs_at_each_tick() -> None:
    dag = DAG("trigger", schedule=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
              start_date=START, catchup=True)
    first = dag.timetable.next_interval(None, START, None, True, START + timedelta(days=2))
    assert first == Interval(START + timedelta(hours=6), START + timedelta(hours=6))
    structure = DagStructure(serialize_dag(dag))
    again = structure.timetable.next_interval(first, START, None, True, START + timedelta(days=2))
    assert again == Interval(START + timedelta(days=1, hours=6), START + timedelta(days=1, hours=6))


def test_airflow_builtin_timetables_make_their_runs() -> None:
    from millstream.authoring.builtin_timetables import (
        CronDataIntervalTimetable,
        DeltaDataIntervalTimetable,
        DeltaTriggerTimetable,
        EventsTimetable,
        MultipleCronTriggerTimetable,
    )

    later = START + timedelta(days=3)

    def first_two(timetable):
        dag = DAG("builtin", schedule=timetable, start_date=START, catchup=True)
        structure = DagStructure(serialize_dag(dag))  # and back, as the scheduler has it
        one = structure.timetable.next_interval(None, START, None, True, later)
        two = structure.timetable.next_interval(one, START, None, True, later)
        return [(i.start - START, i.end - START) for i in (one, two)]

    hours = timedelta(hours=1)
    assert first_two(CronDataIntervalTimetable("0 */12 * * *")) == [
        (0 * hours, 12 * hours), (12 * hours, 24 * hours)]
    # in Paris, midnight is 23:00 UTC the day before in winter
    assert first_two(CronDataIntervalTimetable("0 0 * * *", timezone="Europe/Paris")) == [
        (23 * hours, 47 * hours), (47 * hours, 71 * hours)]
    assert first_two(DeltaDataIntervalTimetable(timedelta(hours=6))) == [
        (0 * hours, 6 * hours), (6 * hours, 12 * hours)]
    assert first_two(DeltaTriggerTimetable(timedelta(hours=6))) == [
        (0 * hours, 0 * hours), (6 * hours, 6 * hours)]
    assert first_two(MultipleCronTriggerTimetable("0 3 * * *", "0 9 * * *")) == [
        (3 * hours, 3 * hours), (9 * hours, 9 * hours)]
    assert first_two(EventsTimetable([START + 5 * hours, START + 2 * hours])) == [
        (2 * hours, 2 * hours), (5 * hours, 5 * hours)]


def test_a_timetable_dag_serializes_the_same_on_every_parse() -> None:
    from millstream.authoring.builtin_timetables import EventsTimetable
    from millstream.parsing.serialize import structure_hash

    def parse() -> str:
        dag = DAG("stable", schedule=EventsTimetable([START]), start_date=START)
        return structure_hash(serialize_dag(dag))

    assert parse() == parse()
    assert DagStructure(serialize_dag(DAG("shown", schedule=EveryTwoHours(),
                                          start_date=START))).schedule_display == "EveryTwoHours"
