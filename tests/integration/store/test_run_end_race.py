"""Two schedulers ending a run's last two tasks at once on PostgreSQL: the run still ends,
once.

Each transaction ends one task and then asks whether the run has ended. Under READ
COMMITTED neither sees the other's uncommitted task, so deciding by a plain count left
the run running for good. Deciding while holding the run's row makes the second look
again after the first committed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from millstream import DAG
from millstream.model.intervals import DataInterval
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.runs import create_run, decide_run_end
from millstream.store.records import DagRunRecord, TaskInstanceKey
from millstream.store.sql import SqlStore

START = datetime(2026, 1, 1, tzinfo=UTC)


def _structure() -> DagStructure:
    with DAG("race", start_date=START, schedule=None) as dag:
        EmptyOperator(task_id="a")
        EmptyOperator(task_id="b")
    return DagStructure.from_dag(dag)


def _running_run(store: SqlStore, dag: DagStructure) -> DagRunRecord:
    with store.transaction():
        run = create_run(store, dag, START, DataInterval(START, START), START)
        run = store.runs.set_state(run, DagRunState.RUNNING, start_date=START)
        for ti in store.task_instances.for_run(run.dag_id, run.run_id):
            for state in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
                ti = store.task_instances.set_state(ti, state)
    return run


def _end_task(store: SqlStore, run: DagRunRecord, task_id: str) -> None:
    ti = store.task_instances.get(TaskInstanceKey(run.dag_id, run.run_id, task_id, -1))
    assert ti is not None
    store.task_instances.set_state(ti, TaskState.SUCCESS, end_date=START)


def test_the_second_of_two_racing_ends_looks_again_and_ends_the_run(
    clean_postgres_engine: Engine,
) -> None:
    dag = _structure()
    first, second = SqlStore(clean_postgres_engine), SqlStore(clean_postgres_engine)
    try:
        run = _running_run(first, dag)
        with first.transaction():
            _end_task(first, run, "a")
            with second.transaction():
                _end_task(second, run, "b")
                mine = decide_run_end(first, dag, run)
                # "a" is ended in first, "b" only in second's open transaction.
                assert (mine.state, mine.look_again, mine.ended_elsewhere) == (None, False,
                                                                               False)
                theirs = decide_run_end(second, dag, run)
                assert theirs.look_again  # first holds the run: not waited for
        with second.transaction():  # the next tick of the second scheduler
            again = decide_run_end(second, dag, run)
            assert again.state is DagRunState.SUCCESS
            second.runs.set_state(again.run, again.state, end_date=START)
        with first.transaction():  # the first scheduler comes back to it: ended already
            late = decide_run_end(first, dag, run)
            assert late.ended_elsewhere and late.state is None
            stored = first.runs.get(run.dag_id, run.run_id)
            assert stored is not None and stored.state is DagRunState.SUCCESS
    finally:
        first.close()
        second.close()


def test_a_run_with_unfinished_tasks_has_not_ended(sql_store: SqlStore) -> None:
    dag = _structure()
    store = sql_store.raw  # type: ignore[attr-defined]
    run = _running_run(store, dag)
    with store.transaction():
        _end_task(store, run, "a")
        assert decide_run_end(store, dag, run).state is None
        _end_task(store, run, "b")
        end = decide_run_end(store, dag, run)
    assert end.state is DagRunState.SUCCESS and not end.look_again
