"""Creating the scheduled runs of the DAGs that are due, and nothing else.

Each DAG's next due moment is kept in the store (``DagRepo.due`` / ``set_next_due``), so
a round reads the DAGs whose moment has come, never every DAG nor any DAG's history:
their resume points are one indexed ``LIMIT 1`` lookup each, their active runs an index
range each.

The DAGs of a round are dealt with in batches, each batch in a few statements whatever
its size (many DAGs on the same schedule are due at the same moment): one read of the
batch's resume points, one of its active run counts, one insert of its runs, one of
their task instances, and one write of the next due moments. A run whose logical date
already has a run (a manual one, or another scheduler's of a moment ago) is passed over
by the insert; a DAG with catchup then goes on from the next interval, one run at a time
as before (:func:`_create_due`), so the run it was planned for is not lost.

After a DAG's due runs are created its next moment is the end of its next interval
(``Schedule.next_run_after``); a DAG that still has due runs it could not create (its
``max_active_runs`` is full, or the round's cap was reached) stays due, and is looked
at again on the next round.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from millstream import observability
from millstream.exceptions import ConflictError
from millstream.model.intervals import DataInterval
from millstream.model.states import DagRunState
from millstream.scheduler.dag_view import DagView
from millstream.scheduler.runs import (
    create_run,
    last_scheduled_interval,
    last_scheduled_intervals,
    plan_run,
)
from millstream.store.records import SCHEDULED_RUN, DagRunRecord, TaskInstanceRecord

if TYPE_CHECKING:
    from millstream.store.interfaces import Store

BATCH_DAGS = 500
"""The most DAGs a batch reads at once (the length of its statements' lists of ids)."""


@dataclass(frozen=True, slots=True)
class DueRound:
    """What a round created, and the DAG the cap stopped at (where the next one resumes)."""

    created: int
    stopped_at: str | None


@dataclass(slots=True)
class _Plan:
    """A DAG's runs to create in this batch, and whether they are all its due ones."""

    dag: DagView
    intervals: list[DataInterval]
    exhausted: bool


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
    done = 0
    while done < len(order):
        room = None if cap is None else cap - created
        # A DAG with a run to create takes at least one of the room: no more DAGs than that
        size = BATCH_DAGS if room is None else min(room, BATCH_DAGS)
        batch = [dags[dag_id] for dag_id in order[done:done + size]]
        made, looked_at = _create_batch(store, batch, now, room)
        created += made
        done += looked_at
        if cap is not None and created >= cap:
            return DueRound(created, order[done - 1])
    return DueRound(created, None)


def _create_batch(store: Store, batch: Sequence[DagView], now: datetime, room: int | None
                  ) -> tuple[int, int]:
    """Create the due runs of ``batch``'s DAGs, at most ``room``; returns how many, and
    how many of the DAGs were looked at (the first ones, up to where the room ran out)."""
    ids = [dag.dag_id for dag in batch]
    last = last_scheduled_intervals(store, ids)
    active = store.runs.active_counts(ids)
    plans: list[_Plan] = []
    planned = 0
    for dag in batch:
        left = None if room is None else room - planned
        plan = _plan(dag, last.get(dag.dag_id), active.get(dag.dag_id, 0), now, left)
        plans.append(plan)
        planned += len(plan.intervals)
        if room is not None and planned >= room:
            break
    created = _insert(store, plans, now)
    for plan in plans:
        if plan.dag.catchup and created.get(plan.dag.dag_id, 0) < len(plan.intervals):
            # A date was taken already: the DAG goes on from the next interval, in the room
            # the run not created left.
            left = None if room is None else room - sum(created.values())
            more, plan.exhausted = _create_due(store, plan.dag, now, left)
            created[plan.dag.dag_id] = created.get(plan.dag.dag_id, 0) + more
    store.dags.set_next_due_many({
        plan.dag.dag_id: plan.dag.timetable.next_run_after(
            now, start_date=plan.dag.start_date, end_date=plan.dag.end_date)
        for plan in plans if plan.exhausted
    })
    return sum(created.values()), len(plans)


def _plan(dag: DagView, last: DataInterval | None, active: int, now: datetime,
          limit: int | None) -> _Plan:
    """The DAG's due intervals after ``last``, up to its free run slots and ``limit``."""
    if dag.start_date is None:
        return _Plan(dag, [], True)
    free = max(0, dag.max_active_runs - active)
    if limit is not None:
        free = min(free, limit)
    # One more than there is room for: whether any is left for a later round
    due = dag.timetable.missed_intervals(last, dag.start_date, dag.end_date, dag.catchup, now,
                                         limit=free + 1)
    return _Plan(dag, due[:free], len(due) <= free)


def _insert(store: Store, plans: Sequence[_Plan], now: datetime) -> dict[str, int]:
    """Insert the planned runs and the instances of those added; returns how many runs
    each DAG got (a run whose date is taken is passed over)."""
    runs: list[DagRunRecord] = []
    instances: dict[tuple[str, str], list[TaskInstanceRecord]] = {}
    for plan in plans:
        for interval in plan.intervals:
            run, firsts = plan_run(plan.dag, interval.start, interval, now, SCHEDULED_RUN)
            runs.append(run)
            instances[(run.dag_id, run.run_id)] = firsts
    added = store.runs.add_new(runs) if runs else []
    store.task_instances.add_to_new_runs(
        ti for run in added for ti in instances[(run.dag_id, run.run_id)])
    created: dict[str, int] = {}
    for run in added:
        observability.run_created(run)
        created[run.dag_id] = created.get(run.dag_id, 0) + 1
    return created


def _create_due(store: Store, dag: DagView, now: datetime, limit: int | None
                ) -> tuple[int, bool]:
    """Create the DAG's due runs one at a time, up to its free run slots and ``limit``,
    passing over the dates that have a run; returns how many, and whether every due
    interval was dealt with (else the DAG stays due)."""
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
