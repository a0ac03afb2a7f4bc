"""Creating the scheduled runs of the DAGs that are due, and nothing else.

Each DAG's next due moment is kept in the store (``DagRepo.due`` / ``set_next_due``), so
a round reads the DAGs whose moment has come, never every DAG nor any DAG's history:
its resume point is one indexed ``LIMIT 1`` lookup, its active runs an index range.

After a DAG's due runs are created its next moment is the end of its next interval
(``Schedule.next_run_after``); a DAG that still has due runs it could not create (its
``max_active_runs`` is full, or the round's cap was reached) stays due, and is looked
at again on the next round.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from millstream.exceptions import ConflictError
from millstream.model.states import DagRunState
from millstream.scheduler.dag_view import DagView
from millstream.scheduler.runs import create_run, last_scheduled_interval
from millstream.store.records import SCHEDULED_RUN

if TYPE_CHECKING:
    from millstream.store.interfaces import Store


@dataclass(frozen=True, slots=True)
class DueRound:
    """What a round created, and the DAG the cap stopped at (where the next one resumes)."""

    created: int
    stopped_at: str | None


def create_runs_of_due_dags(
    store: Store,
    dags: Mapping[str, DagView],
    paused: Collection[str],
    now: datetime,
    cap: int | None = None,
    resume_after: str | None = None,
) -> DueRound:
    """Create the due scheduled runs of the due DAGs (in the caller's transaction).

    At most ``cap`` runs; the DAGs are taken by id starting after ``resume_after``, so a
    long catchup of one DAG starves no other. DAGs the caller does not know (not in
    ``dags``) or has paused are left due for when it does.
    """
    order = [dag_id for dag_id in store.dags.due(now)
             if dag_id in dags and dag_id not in paused]
    if resume_after is not None:
        order = ([d for d in order if d > resume_after]
                 + [d for d in order if d <= resume_after])
    created = 0
    for dag_id in order:
        room = None if cap is None else cap - created
        made, exhausted = _create_due(store, dags[dag_id], now, room)
        created += made
        dag = dags[dag_id]
        if exhausted:
            store.dags.set_next_due(dag_id, dag.timetable.next_run_after(
                now, start_date=dag.start_date, end_date=dag.end_date))
        if cap is not None and created >= cap:
            return DueRound(created, dag_id)
    return DueRound(created, None)


def _create_due(store: Store, dag: DagView, now: datetime, limit: int | None
                ) -> tuple[int, bool]:
    """Create the DAG's due runs, up to its free run slots and ``limit``; returns how many,
    and whether every due interval was dealt with (else the DAG stays due)."""
    if dag.start_date is None:
        return 0, True
    active = store.runs.list(dag.dag_id, [DagRunState.QUEUED, DagRunState.RUNNING])
    free = dag.max_active_runs - len(active)
    if limit is not None:
        free = min(free, limit)
    last = last_scheduled_interval(store, dag.dag_id)
    created = 0
    while True:
        due = dag.timetable.missed_intervals(last, dag.start_date, dag.end_date, dag.catchup,
                                             now, limit=1)
        if not due:
            return created, True
        if created >= free:
            return created, False
        interval = due[0]
        last = interval
        try:
            create_run(store, dag, interval.start, interval, now, SCHEDULED_RUN)
        except ConflictError:
            # The date has a run already (a manual one, or another scheduler's of a moment
            # ago): it is passed over.
            if not dag.catchup:
                return created, True
            continue
        created += 1
        if not dag.catchup:
            return created, True


__all__ = ["DueRound", "create_runs_of_due_dags"]
