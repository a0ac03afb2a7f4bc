"""Triggering a run: the one way a manual (or backfill) run of a stored DAG is made.

The API, the UI, the CLI and ``TriggerDagRunOperator`` all call :func:`trigger_run` with
what they received (conf as text or a dict, logical date as text or a datetime); the conf
is checked against the DAG's params before anything is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from millstream.exceptions import ConflictError, InvalidInputError, ParamValidationError
from millstream.model.identifiers import Identifier
from millstream.model.intervals import ensure_utc
from millstream.parsing.serialize import DagStructure
from millstream.scheduler import runs as scheduler_runs
from millstream.services.common import require_dag, require_structure
from millstream.services.inputs import parse_conf, parse_date, parse_identifier
from millstream.store.audit import record_action
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceRecord

MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create, with its initial task instances."""

    run: DagRunRecord
    instances: tuple[TaskInstanceRecord, ...]


def plan(structure: DagStructure, logical_date: datetime, now: datetime,
         run_type: str = MANUAL, conf: Mapping[str, Any] | None = None,
         run_id: str | None = None, *, conf_field: str = "conf") -> NewRun:
    """A queued run of the stored structure and its task instances, not yet stored.

    A conf that does not fit the DAG's params is an InvalidInputError naming ``conf_field``.
    """
    logical_date = ensure_utc(logical_date)
    timetable = structure.timetable
    # A manual run covers the last complete interval, as in Airflow; a backfill's runs
    # are the schedule's own intervals.
    interval = (timetable.manual_data_interval(logical_date) if run_type == MANUAL
                else timetable.data_interval_for(logical_date))
    try:
        run, instances = scheduler_runs.plan_run(
            structure, logical_date, interval, now,
            run_type, dict(conf or {}), run_id)
    except ParamValidationError as exc:
        raise InvalidInputError(f"{conf_field} does not fit the DAG's params: {exc}",
                                field=conf_field) from None
    return NewRun(run, tuple(instances))


def add_run(store: Store, new: NewRun, who: str, now: datetime) -> DagRunRecord:
    """Store a planned run and its task instances, audited; a run id or logical date
    already taken is a ConflictError."""
    run = new.run
    with store.transaction():
        require_dag(store, run.dag_id)
        if store.runs.get(run.dag_id, run.run_id) is not None:
            raise ConflictError(f"DAG {run.dag_id!r} already has a run {run.run_id!r}")
        existing = store.runs.find(run.dag_id, run.logical_date)
        if existing is not None:
            raise ConflictError(
                f"DAG {run.dag_id!r} already has a run for logical date "
                f"{run.logical_date.isoformat()}: {existing.run_id!r}"
            )
        store.runs.add(run)
        store.task_instances.add_many(new.instances)
        record_action(store, "trigger", who, now, dag_id=run.dag_id, run_id=run.run_id,
                      run_type=run.run_type, logical_date=run.logical_date.isoformat(),
                      conf=run.conf)
    return run


def trigger_run(
    store: Store,
    dag_id: str,
    *,
    who: str,
    now: datetime,
    conf: str | Mapping[str, Any] | None = None,
    logical_date: str | datetime | date | None = None,
    run_id: str | None = None,
    note: str | None = None,
    conf_field: str = "conf",
    date_field: str = "logical date",
) -> DagRunRecord:
    """Queue a manual run of ``dag_id`` from raw inputs; returns the stored run.

    The logical date defaults to ``now``, to the microsecond as in Airflow; if another
    run already has that date (two triggers at once), the next free microsecond is taken,
    so simultaneous triggers all succeed. Bad conf or date is an InvalidInputError naming
    ``conf_field`` / ``date_field``; an unknown DAG a NotFoundError; a run id or a logical
    date that the caller gave and that is already taken a ConflictError.
    """
    run_conf = parse_conf(conf, conf_field)
    given_date = parse_date(logical_date, date_field)
    run_id = parse_identifier(run_id, Identifier.RUN) if run_id and run_id.strip() else None
    moment = given_date or now
    with store.transaction():
        structure = require_structure(store, dag_id)
        for _ in range(_FREE_MOMENT_ATTEMPTS):
            new = plan(structure, moment, now, MANUAL, run_conf, run_id or None,
                       conf_field=conf_field)
            if note is not None:
                new = NewRun(replace(new.run, note=note), new.instances)
            try:
                return add_run(store, new, who, now)
            except ConflictError:
                # The moment is taken (by a trigger at the same instant, perhaps one that
                # committed between add_run's check and its insert on PostgreSQL). Only a
                # defaulted date moves on; a run id the caller chose stays a conflict.
                if given_date is not None or (run_id and store.runs.get(dag_id, run_id)):
                    raise
            moment += _ONE_MICROSECOND
        raise ConflictError(f"DAG {dag_id!r} has runs at every microsecond from "
                            f"{now.isoformat()} on; give a logical date")


_FREE_MOMENT_ATTEMPTS = 1000
_ONE_MICROSECOND = timedelta(microseconds=1)

