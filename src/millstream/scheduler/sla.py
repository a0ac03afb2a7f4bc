"""SLA misses: tasks not done by their run's data interval end plus their ``sla``.

As in Airflow, a task with ``sla=timedelta(...)`` misses it when, that long after its
run's data interval ended, it has not succeeded (or been skipped). Each miss is reported
once to the DAG's ``sla_miss_callback``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from millstream.model.states import DagRunState, TaskState
from millstream.runtime.dag_callbacks import SlaMiss

if TYPE_CHECKING:
    from millstream.scheduler.dag_view import DagView
    from millstream.store.interfaces import Store

DONE_IN_TIME = frozenset({TaskState.SUCCESS, TaskState.SKIPPED})


def find_sla_misses(
    store: Store, dags: Mapping[str, DagView], now: datetime, reported: set[tuple[str, str, str]]
) -> list[SlaMiss]:
    """Misses not yet in ``reported`` among active runs; adds the new ones to it."""
    misses: list[SlaMiss] = []
    # Only the runs of DAGs that have an SLA are read: most have none.
    with_sla = {dag_id: slas for dag_id, dag in dags.items()
                if (slas := {t.task_id: t.sla for t in dag.tasks if t.sla is not None})}
    active = [DagRunState.QUEUED, DagRunState.RUNNING]
    for run in [run for dag_id in sorted(with_sla) for run in store.runs.list(dag_id, active)]:
        slas = with_sla[run.dag_id]
        late = {
            task_id: run.data_interval_end + sla
            for task_id, sla in slas.items()
            if run.data_interval_end + sla <= now and (run.dag_id, run.run_id, task_id)
            not in reported
        }
        if not late:
            continue
        for ti in store.task_instances.for_run(run.dag_id, run.run_id, list(late)):
            key = (run.dag_id, run.run_id, ti.task_id)
            if ti.state not in DONE_IN_TIME and key not in reported:
                reported.add(key)
                misses.append(SlaMiss(run.dag_id, run.run_id, ti.task_id, late[ti.task_id]))
    return misses

