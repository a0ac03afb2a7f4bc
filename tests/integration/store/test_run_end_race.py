"""Two schedulers ending tasks of one run at once on PostgreSQL: what those ends lead to
still happens, once.

Each transaction ends one task, then evaluates the run: is the task waiting on both
ready, has the run ended? Under READ COMMITTED neither sees the other's uncommitted task,
so by plain reads the waiting task was never scheduled, or the run stayed running with
every task ended. Holding the run's row (``hold_run``) makes the second look again after
the first committed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from millstream import DAG
from millstream.model.intervals import DataInterval
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.readiness import evaluate_dirty
from millstream.scheduler.runs import create_run, hold_run, run_end_state
from millstream.store.records import DagRunRecord, TaskInstanceKey
from millstream.store.sql import SqlStore

START = datetime(2026, 1, 1, tzinfo=UTC)


def _structure(joined: bool) -> DagStructure:
    with DAG("race", start_date=START, schedule=None) as dag:
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        if joined:
            [a, b] >> EmptyOperator(task_id="c")
    return DagStructure.from_dag(dag)


def _running_run(store: SqlStore, dag: DagStructure, started: tuple[str, ...]) -> DagRunRecord:
    with store.transaction():
        run = create_run(store, dag, START, DataInterval(START, START), START)
        run = store.runs.set_state(run, DagRunState.RUNNING, start_date=START)
        for ti in store.task_instances.for_run(run.dag_id, run.run_id):
            if ti.task_id in started:
                for state in (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING):
                    ti = store.task_instances.set_state(ti, state)
    return run


def _end_task(store: SqlStore, run: DagRunRecord, task_id: str) -> None:
    ti = store.task_instances.get(TaskInstanceKey(run.dag_id, run.run_id, task_id, -1))
    assert ti is not None
    store.task_instances.set_state(ti, TaskState.SUCCESS, end_date=START)


def _state(store: SqlStore, run: DagRunRecord, task_id: str) -> TaskState:
    ti = store.task_instances.get(TaskInstanceKey(run.dag_id, run.run_id, task_id, -1))
    assert ti is not None
    return ti.state


def test_the_second_of_two_racing_ends_looks_again_and_ends_the_run(
    clean_postgres_engine: Engine,
) -> None:
    dag = _structure(joined=False)
    first, second = SqlStore(clean_postgres_engine), SqlStore(clean_postgres_engine)
    try:
        run = _running_run(first, dag, ("a", "b"))
        with first.transaction():
            _end_task(first, run, "a")
            with second.transaction():
                _end_task(second, run, "b")
                mine = hold_run(first, run)
                assert not mine.look_again and not mine.ended_elsewhere
                # "a" is ended in first, "b" only in second's open transaction.
                assert run_end_state(first, dag, run) is None
                assert hold_run(second, run).look_again  # first holds it: not waited for
        with second.transaction():  # the next tick of the second scheduler
            again = hold_run(second, run)
            assert not again.look_again
            state = run_end_state(second, dag, run)
            assert state is DagRunState.SUCCESS
            second.runs.set_state(again.run, state, end_date=START)
        with first.transaction():  # the first scheduler comes back to it: ended already
            late = hold_run(first, run)
            assert late.ended_elsewhere and not late.look_again
            assert late.run.state is DagRunState.SUCCESS
    finally:
        first.close()
        second.close()


def test_a_task_waiting_on_two_racing_ends_is_scheduled_by_the_second(
    clean_postgres_engine: Engine,
) -> None:
    dag = _structure(joined=True)
    first, second = SqlStore(clean_postgres_engine), SqlStore(clean_postgres_engine)
    try:
        run = _running_run(first, dag, ("a", "b"))
        with first.transaction():
            _end_task(first, run, "a")
            with second.transaction():
                _end_task(second, run, "b")
                assert not hold_run(first, run).look_again
                evaluate_dirty(first, dag, run, {"c"}, START)
                assert _state(first, run, "c") is TaskState.NONE  # b looks unfinished
                assert hold_run(second, run).look_again  # so c is not judged here
        with second.transaction():
            assert not hold_run(second, run).look_again
            evaluate_dirty(second, dag, run, {"c"}, START)
        with first.transaction():
            assert _state(first, run, "c") is TaskState.SCHEDULED
    finally:
        first.close()
        second.close()


def test_a_run_with_unfinished_tasks_has_not_ended(sql_store: SqlStore) -> None:
    dag = _structure(joined=False)
    store = sql_store.raw  # type: ignore[attr-defined]
    run = _running_run(store, dag, ("a", "b"))
    with store.transaction():
        assert not hold_run(store, run).look_again
        _end_task(store, run, "a")
        assert run_end_state(store, dag, run) is None
        _end_task(store, run, "b")
        assert run_end_state(store, dag, run) is DagRunState.SUCCESS
