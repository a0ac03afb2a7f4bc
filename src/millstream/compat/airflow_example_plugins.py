"""The plugins Airflow's own example DAGs import from ``airflow.example_dags.plugins``.

``AfterWorkdayTimetable`` is the timetable of Airflow's timetable tutorial: one run per
working day (Monday to Friday), covering that day, started once the day is over.
``DecreasingPriorityStrategy`` is the custom priority weight strategy of its example.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from millstream.authoring.priority import PriorityWeightStrategy
from millstream.authoring.timetables import DagRunInfo, DataInterval, TimeRestriction, Timetable


def _midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time.min, tzinfo=UTC)


class AfterWorkdayTimetable(Timetable):
    """Daily intervals of the working days; a weekend day is skipped to the next Monday."""

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        start = _midnight(run_after - timedelta(days=1))
        if start.weekday() >= 5:  # Saturday or Sunday: back to Friday
            start -= timedelta(days=start.weekday() - 4)
        return DataInterval(start, start + timedelta(days=1))

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            start = _midnight(last_automated_data_interval.start + timedelta(days=1))
        else:
            if restriction.earliest is None:
                return None  # no start_date: never scheduled
            start = restriction.earliest
            if not restriction.catchup:
                start = max(start, _midnight(datetime.now(UTC)))
            elif start != _midnight(start):  # the first whole day after start_date
                start = _midnight(start + timedelta(days=1))
        if start.weekday() >= 5:
            start = _midnight(start + timedelta(days=7 - start.weekday()))
        if restriction.latest is not None and start > restriction.latest:
            return None
        return DagRunInfo.interval(start, start + timedelta(days=1))

    @property
    def summary(self) -> str:
        return "after each workday"

    def serialize(self) -> dict[str, Any]:
        return {}


class DecreasingPriorityStrategy(PriorityWeightStrategy):
    """A weight of 3 for the first try, one less for each retry, never below 1."""

    def get_weight(self, ti: Any) -> int:
        return max(3 - int(ti.try_number) + 1, 1)

__all__ = ["AfterWorkdayTimetable", "DecreasingPriorityStrategy"]
