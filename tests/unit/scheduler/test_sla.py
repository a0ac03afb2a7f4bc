"""SLA misses: found once per task and run, only for tasks not done in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from millstream import DAG
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.callbacks import InlineCallbackRunner
from millstream.scheduler.runs import create_run
from millstream.scheduler.sla import SlaMiss, find_sla_misses
from tests.autocommit import autocommit

from . import harness

START = datetime(2026, 1, 1, tzinfo=UTC)


def _setup(callback: Any = None) -> tuple[Any, DagStructure, DAG, str]:
    dag = DAG("sla_dag", schedule="@daily", start_date=START, sla_miss_callback=callback)
    EmptyOperator(task_id="fast", sla=timedelta(hours=1), dag=dag)
    EmptyOperator(task_id="slow", sla=timedelta(hours=1), dag=dag)
    EmptyOperator(task_id="no_sla", dag=dag)
    structure = DagStructure.from_dag(dag)
    store = autocommit(harness.store_factory())
    interval = structure.timetable.data_interval_for(START)
    run = create_run(store, structure, START, interval, START)  # type: ignore[arg-type]
    store.runs.set_state(run, DagRunState.RUNNING)
    return store, structure, dag, run.run_id


def test_only_unfinished_tasks_past_their_sla_are_reported_and_only_once() -> None:
    store, structure, _, run_id = _setup()
    fast = next(ti for ti in store.task_instances.for_run("sla_dag", run_id)
                if ti.task_id == "fast")
    store.task_instances.set_state(fast, TaskState.SKIPPED)
    reported: set[tuple[str, str, str]] = set()
    interval_end = START + timedelta(days=1)

    assert find_sla_misses(store, {"sla_dag": structure}, interval_end, reported) == []
    late = interval_end + timedelta(hours=1)
    misses = find_sla_misses(store, {"sla_dag": structure}, late, reported)
    assert misses == [SlaMiss("sla_dag", run_id, "slow", late)]
    assert find_sla_misses(store, {"sla_dag": structure}, late + timedelta(hours=5), reported) == []


def test_the_dag_callback_gets_airflows_arguments() -> None:
    received: list[tuple[Any, ...]] = []
    store, structure, dag, _ = _setup(lambda *args: received.append(args))
    late = START + timedelta(days=1, hours=2)
    misses = find_sla_misses(store, {"sla_dag": structure}, late, set())
    InlineCallbackRunner({dag.dag_id: dag}).sla_missed(structure, misses)
    assert len(received) == 1
    called_dag, task_list, blocking, slas, blocking_tis = received[0]
    assert called_dag is dag
    assert "fast" in task_list and "slow" in task_list
    assert {m.task_id for m in slas} == {"fast", "slow"}
    assert blocking == "" and blocking_tis == []
