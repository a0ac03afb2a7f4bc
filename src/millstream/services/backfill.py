"""Backfilling: one run per schedule interval of a stored DAG between two dates, audited once.

Dates that already have a run are left alone, so repeating a backfill creates nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from millstream import observability
from millstream.exceptions import InvalidInputError
from millstream.model.intervals import DeltaSchedule, NoSchedule, OnceSchedule
from millstream.parsing.serialize import DagStructure
from millstream.services.common import require_dag, require_structure
from millstream.services.inputs import parse_conf, require_date
from millstream.services.trigger import NewRun, plan
from millstream.store.audit import record_action
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord

MAX_BACKFILL_RUNS = 10_000
"""More runs than this in one backfill is almost certainly a mistake in the dates."""

RUN_TYPE = "backfill"

_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BackfillResult:
    """The runs a backfill created, and those whose logical date already had a run."""

    created: list[DagRunRecord]
    existing: list[DagRunRecord]


def backfill_dates(structure: DagStructure, start: datetime, end: datetime,
                   start_field: str = "start", end_field: str = "end") -> list[datetime]:
    """The logical dates of the DAG's schedule intervals that start in [start, end].

    The DAG's own start and end dates narrow the range; a timedelta schedule keeps the
    grid laid from the DAG's start date.
    """
    timetable = structure.timetable
    if isinstance(timetable, NoSchedule | OnceSchedule):
        raise InvalidInputError(
            f"DAG {structure.dag_id!r} has no periodic schedule "
            f"({structure.schedule_display or 'None'}); backfill needs a cron or timedelta "
            "schedule (trigger single runs with a logical date instead)"
        )
    if end < start:
        raise InvalidInputError(f"{end_field} {end.isoformat()} is before {start_field} "
                                f"{start.isoformat()}")
    low, high = start, end
    if structure.start_date is not None:
        low = max(low, structure.start_date)
        if isinstance(timetable, DeltaSchedule):
            steps = -((structure.start_date - low) // timetable.delta)  # round up
            low = structure.start_date + steps * timetable.delta
    if structure.end_date is not None:
        high = min(high, structure.end_date)
    if low > high:
        return []
    intervals = timetable.missed_intervals(None, low, high, True, _FAR_FUTURE,
                                           limit=MAX_BACKFILL_RUNS + 1)
    dates = [interval.start for interval in intervals if low <= interval.start <= high]
    if len(dates) > MAX_BACKFILL_RUNS:
        raise InvalidInputError(
            f"the range holds more than {MAX_BACKFILL_RUNS} runs of DAG {structure.dag_id!r}; "
            "backfill a shorter range at a time"
        )
    return dates


def backfill(
    store: Store, dag_id: str, start: str | datetime | date, end: str | datetime | date, *,
    who: str, now: datetime, conf: str | Mapping[str, Any] | None = None,
    start_field: str = "start", end_field: str = "end", conf_field: str = "conf",
) -> BackfillResult:
    """Create a backfill run for each schedule interval whose logical date is in
    [start, end], from raw inputs."""
    first = require_date(start, start_field)
    last = require_date(end, end_field)
    run_conf = parse_conf(conf, conf_field)
    with store.transaction():
        structure = require_structure(store, dag_id)
        planned = [plan(structure, moment, now, RUN_TYPE, run_conf, conf_field=conf_field)
                   for moment in backfill_dates(structure, first, last, start_field,
                                                end_field)]
        return add_backfill_runs(store, dag_id, planned, who, now)


def add_backfill_runs(store: Store, dag_id: str, planned: Sequence[NewRun], who: str,
                      now: datetime) -> BackfillResult:
    """Store the planned runs whose logical date has no run yet; the others are left alone."""
    created: list[DagRunRecord] = []
    existing: list[DagRunRecord] = []
    with store.transaction():
        require_dag(store, dag_id)
        for new in planned:
            if new.run.dag_id != dag_id:
                raise InvalidInputError(f"a backfill of DAG {dag_id!r} got a run of "
                                        f"{new.run.dag_id!r}")
            found = store.runs.find(dag_id, new.run.logical_date)
            if found is None:
                found = store.runs.get(dag_id, new.run.run_id)
            if found is not None:
                existing.append(found)
                continue
            store.runs.add(new.run)
            store.task_instances.add_many(new.instances)
            observability.run_created(new.run)
            created.append(new.run)
        if created:
            record_action(store, "backfill", who, now, dag_id=dag_id, runs=len(created),
                          first=created[0].logical_date.isoformat(),
                          last=created[-1].logical_date.isoformat())
    return BackfillResult(created, existing)
