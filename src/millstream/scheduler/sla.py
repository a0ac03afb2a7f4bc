"""Missed deadlines: tasks not done by their ``sla``, runs not ended by a deadline alert.

As in Airflow, a task with ``sla=timedelta(...)`` misses it when, that long after its
run's data interval ended, it has not succeeded (or been skipped). As Airflow 3's deadline
alerts, a run of a DAG with ``deadline=DeadlineAlert(reference, interval)`` misses it when
it has not ended by reference + interval (see :mod:`millstream.authoring.deadline`).

Each miss is recorded once in the store (the UI lists them), counted in the metrics, and
reported to the DAG's callbacks (``sla_miss_callback``, the deadline alert's callback).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from millstream import observability
from millstream.model.states import DagRunState, TaskState
from millstream.runtime.dag_callbacks import SlaMiss
from millstream.store.deadline_records import DEADLINE, SLA, DeadlineMissRecord

if TYPE_CHECKING:
    from millstream.scheduler.dag_view import DagView
    from millstream.store.interfaces import Store
    from millstream.store.records import DagRunRecord

DONE_IN_TIME = frozenset({TaskState.SUCCESS, TaskState.SKIPPED})


def find_sla_misses(
    store: Store, dags: Mapping[str, DagView], now: datetime, reported: set[tuple[str, str, str]]
) -> list[SlaMiss]:
    """New misses among active runs, recorded in the store; ``reported`` keeps the ones
    this scheduler has seen (a miss another scheduler recorded first is not returned)."""
    misses: list[SlaMiss] = []
    # Only the runs of DAGs with an SLA or a deadline are read: most have neither.
    watched = sorted(dag_id for dag_id, dag in dags.items()
                     if getattr(dag, "deadlines", None) or any(t.sla is not None
                                                               for t in dag.tasks))
    active = [DagRunState.QUEUED, DagRunState.RUNNING]
    for run in [run for dag_id in watched for run in store.runs.list(dag_id, active)]:
        dag = dags[run.dag_id]
        found = _late_tasks(store, dag, run, now, reported) + _late_run(dag, run, now, reported)
        for miss in found:
            reported.add((miss.dag_id, miss.run_id, _seen_key(miss)))
            record = DeadlineMissRecord(miss.dag_id, miss.run_id, miss.task_id, miss.kind,
                                        miss.deadline, now)
            if store.deadline_misses.add(record):
                observability.deadline_missed(miss.dag_id, miss.kind)
                misses.append(miss)
    return misses


def _seen_key(miss: SlaMiss) -> str:
    return miss.task_id if miss.kind == SLA else f"{DEADLINE}@{miss.deadline.isoformat()}"


def _late_tasks(store: Store, dag: DagView, run: DagRunRecord, now: datetime,
                reported: set[tuple[str, str, str]]) -> list[SlaMiss]:
    slas = {t.task_id: t.sla for t in dag.tasks if t.sla is not None}
    late = {
        task_id: run.data_interval_end + sla
        for task_id, sla in slas.items()
        if run.data_interval_end + sla <= now
        and (run.dag_id, run.run_id, task_id) not in reported
    }
    if not late:
        return []
    found: dict[str, SlaMiss] = {}
    for ti in store.task_instances.for_run(run.dag_id, run.run_id, list(late)):
        if ti.state not in DONE_IN_TIME and ti.task_id not in found:
            found[ti.task_id] = SlaMiss(run.dag_id, run.run_id, ti.task_id, late[ti.task_id])
    return list(found.values())


def _late_run(dag: DagView, run: DagRunRecord, now: datetime,
              reported: set[tuple[str, str, str]]) -> list[SlaMiss]:
    found: list[SlaMiss] = []
    for index, (reference, interval) in enumerate(getattr(dag, "deadlines", ())):
        deadline = run_deadline(run, reference, interval)
        if deadline is None or deadline > now:
            continue
        miss = SlaMiss(run.dag_id, run.run_id, "", deadline, kind=DEADLINE, alert=index)
        if (run.dag_id, run.run_id, _seen_key(miss)) not in reported:
            found.append(miss)
    return found


def run_deadline(run: DagRunRecord, reference: str, interval: timedelta) -> datetime | None:
    """When ``run`` must have ended by, or None if its reference moment has not come."""
    moment = {
        "dagrun_logical_date": run.logical_date,
        "dagrun_queued_at": run.queued_at,
        "dagrun_start_date": run.start_date,
    }.get(reference)
    return None if moment is None else moment + interval
