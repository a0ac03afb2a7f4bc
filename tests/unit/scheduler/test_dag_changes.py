"""A DAG that changes while its runs are active: removed tasks end removed, new ones run."""

from __future__ import annotations

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator

from .harness import START, Engine


def _version(*task_ids: str) -> DAG:
    dag = DAG("changing", start_date=START)
    previous = None
    for task_id in task_ids:
        task = EmptyOperator(task_id=task_id, dag=dag)
        if previous is not None:
            previous >> task
        previous = task
    return dag


def test_a_removed_task_ends_removed_and_a_new_task_runs() -> None:
    first = _version("extract", "old_step")
    engine = Engine(first, held=True)
    run = engine.trigger(first)
    engine.tick()
    assert engine.executor.held_ids() == {"extract"}

    second = _version("extract", "new_step")
    engine.set_dags(second)
    engine.scheduler.dag_changed("changing")
    engine.tick()
    assert engine.ti(run, "old_step").state is TaskState.REMOVED

    engine.executor.finish("extract")
    engine.tick()
    assert engine.executor.held_ids() == {"new_step"}
    engine.executor.finish("new_step")
    engine.tick()
    assert engine.states(run) == {"extract": "success", "old_step": "removed",
                                  "new_step": "success"}
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_a_try_of_a_removed_task_is_recorded_without_a_retry() -> None:
    first = _version("extract", "old_step")
    engine = Engine(first, held=True)
    run = engine.trigger(first)
    engine.tick()
    engine.set_dags(_version("other"))
    engine.scheduler.dag_changed("changing")
    engine.executor.finish("extract", TaskState.UP_FOR_RETRY, error="boom")
    engine.tick()
    assert engine.ti(run, "extract").state is TaskState.FAILED
