"""Creating runs and deciding a run's final state from its leaf tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from millstream import DAG, Param
from millstream.exceptions import ConflictError, TaskSkipped
from millstream.model.intervals import DataInterval
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.parsing.serialize import DagStructure
from millstream.scheduler.runs import final_state, make_run_id, priority_weights
from millstream.store.records import TaskInstanceRecord

from .harness import START, Engine


def _fail() -> None:
    raise RuntimeError("planned failure")


def test_failed_non_leaf_with_a_successful_all_done_leaf_ends_the_run_success() -> None:
    with DAG("non_leaf_failure", start_date=START) as dag:
        PythonOperator(task_id="extract", python_callable=_fail) >> EmptyOperator(
            task_id="cleanup", trigger_rule="all_done"
        )
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {"extract": "failed", "cleanup": "success"}
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_failed_leaf_fails_the_run_even_if_other_leaves_succeed() -> None:
    with DAG("leaf_failure", start_date=START) as dag:
        start = EmptyOperator(task_id="start")
        start >> [EmptyOperator(task_id="fine"), PythonOperator(task_id="bad",
                                                                python_callable=_fail)]
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.run_record(run).state is DagRunState.FAILED
    assert engine.run_record(run).end_date == engine.clock()


def test_upstream_failed_leaf_fails_the_run() -> None:
    with DAG("leaf_upstream_failed", start_date=START) as dag:
        PythonOperator(task_id="bad", python_callable=_fail) >> EmptyOperator(task_id="leaf")
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {"bad": "failed", "leaf": "upstream_failed"}
    assert engine.run_record(run).state is DagRunState.FAILED


def test_skipped_leaves_do_not_fail_the_run() -> None:
    def skip() -> None:
        raise TaskSkipped("nothing to do today")

    with DAG("leaf_skipped", start_date=START) as dag:
        PythonOperator(task_id="check", python_callable=skip) >> EmptyOperator(task_id="leaf")
        EmptyOperator(task_id="other")
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {"check": "skipped", "leaf": "skipped", "other": "success"}
    assert engine.run_record(run).state is DagRunState.SUCCESS


def _instances(dag: DAG, states: dict[str, TaskState]) -> list[TaskInstanceRecord]:
    return [TaskInstanceRecord(dag.dag_id, "r", task_id, state=state)
            for task_id, state in states.items()]


@pytest.mark.parametrize(("mid", "leaf", "expected"), [
    (TaskState.SUCCESS, TaskState.SUCCESS, DagRunState.SUCCESS),
    (TaskState.FAILED, TaskState.SUCCESS, DagRunState.SUCCESS),
    (TaskState.SUCCESS, TaskState.SKIPPED, DagRunState.SUCCESS),
    (TaskState.SUCCESS, TaskState.REMOVED, DagRunState.SUCCESS),
    (TaskState.FAILED, TaskState.UPSTREAM_FAILED, DagRunState.FAILED),
    (TaskState.SUCCESS, TaskState.FAILED, DagRunState.FAILED),
    (TaskState.SUCCESS, TaskState.RUNNING, None),
    (TaskState.UP_FOR_RETRY, TaskState.NONE, None),
])
def test_final_state_looks_only_at_leaves_once_everything_finished(
    mid: TaskState, leaf: TaskState, expected: DagRunState | None
) -> None:
    with DAG("final", start_date=START) as dag:
        EmptyOperator(task_id="mid") >> EmptyOperator(task_id="leaf")
    assert final_state(dag, _instances(dag, {"mid": mid, "leaf": leaf})) is expected


def test_a_dag_without_tasks_finishes_its_run_at_once() -> None:
    dag = DAG("empty_dag", start_date=START)
    engine = Engine(dag)
    run = engine.trigger(dag)
    engine.tick()
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_trigger_creates_a_queued_run_with_one_instance_per_task() -> None:
    with DAG("created", start_date=START, schedule="@daily") as dag:
        EmptyOperator(task_id="a", retries=3, pool="special", pool_slots=2, queue="q2") >> (
            EmptyOperator(task_id="b")
        )
    engine = Engine(dag)
    run = engine.trigger(dag, conf={"x": 1})
    assert engine.run_record(run).state is DagRunState.QUEUED
    assert run.run_id == make_run_id("manual", START) == "manual__2026-01-01T00:00:00+00:00"
    assert run.queued_at == START
    assert run.conf == {"x": 1}
    assert (run.data_interval_start, run.data_interval_end) == (START, START + timedelta(days=1))
    a = engine.ti(run, "a")
    assert (a.state, a.max_tries, a.pool, a.pool_slots, a.queue, a.try_number) == (
        TaskState.NONE, 3, "special", 2, "q2", 0
    )
    assert {ti.task_id for ti in engine.store.task_instances.for_run(dag.dag_id, run.run_id)} == {
        "a", "b"
    }


def test_triggering_the_same_logical_date_twice_is_refused() -> None:
    dag = DAG("twice", start_date=START)
    EmptyOperator(task_id="a", dag=dag)
    engine = Engine(dag)
    engine.trigger(dag)
    with pytest.raises(ConflictError, match="already has a run"):
        engine.trigger(dag)


def test_bad_conf_is_rejected_before_anything_is_stored() -> None:
    dag = DAG("strict_params", start_date=START, params={"n": Param(1, type="integer")})
    EmptyOperator(task_id="a", dag=dag)
    engine = Engine(dag)
    with pytest.raises(ValueError):
        engine.trigger(dag, conf={"n": "not a number"})
    assert engine.store.runs.list() == []
    assert engine.store.task_instances.for_run(dag.dag_id, make_run_id("manual", START)) == []


def test_priority_weights_follow_each_weight_rule() -> None:
    with DAG("weights", start_date=START) as dag:
        a = EmptyOperator(task_id="a", priority_weight=1)
        b = EmptyOperator(task_id="b", priority_weight=2)
        c = EmptyOperator(task_id="c", priority_weight=3)
        d = EmptyOperator(task_id="d", priority_weight=4)
        up = EmptyOperator(task_id="up", priority_weight=5, weight_rule="upstream")
        absolute = EmptyOperator(task_id="absolute", priority_weight=7, weight_rule="absolute")
        a >> b >> [c, d]
        d >> up
        a >> absolute
    weights = priority_weights(dag)
    assert weights["a"] == 1 + 2 + 3 + 4 + 5 + 7  # everything downstream of a
    assert weights["b"] == 2 + 3 + 4 + 5
    assert weights["d"] == 4 + 5
    assert weights["c"] == 3
    assert weights["up"] == 5 + 4 + 2 + 1  # itself and everything upstream
    assert weights["absolute"] == 7


def test_triggering_an_unknown_dag_names_it() -> None:
    engine = Engine()
    with pytest.raises(KeyError, match="no DAG 'ghost'"):
        engine.scheduler.trigger("ghost", START, DataInterval(START, START), START)


def test_a_naive_logical_date_is_taken_as_utc() -> None:
    dag = DAG("naive", start_date=START, schedule="@daily")
    EmptyOperator(task_id="a", dag=dag)
    engine = Engine(dag)
    naive = datetime(2026, 1, 5)
    run = engine.scheduler.trigger(dag.dag_id, naive, dag.timetable.data_interval_for(naive),
                                   START)
    assert run.logical_date == datetime(2026, 1, 5, tzinfo=UTC)
    later = engine.trigger(dag, datetime(2026, 1, 6, tzinfo=UTC))
    previous = engine.store.runs.previous(dag.dag_id, later.logical_date)
    assert previous is not None and previous.run_id == run.run_id


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(edges=st.sets(st.tuples(st.integers(0, 11), st.integers(0, 11))
                     .filter(lambda e: e[0] < e[1]), max_size=30),
       weights=st.lists(st.integers(1, 3), min_size=12, max_size=12),
       rules=st.lists(st.sampled_from(["downstream", "upstream", "absolute"]),
                      min_size=12, max_size=12))
def test_priority_weights_count_each_relative_once_in_any_dag(
        edges: set[tuple[int, int]], weights: list[int], rules: list[str]) -> None:
    with DAG("random_weights", start_date=START) as dag:
        tasks = [EmptyOperator(task_id=f"t{i}", priority_weight=weights[i],
                               weight_rule=rules[i]) for i in range(12)]
        for upper, lower in edges:
            tasks[upper] >> tasks[lower]
    expected = {}
    for task in dag.tasks:  # the plain definition: own weight plus each relative's, once
        if task.weight_rule == "absolute":
            expected[task.task_id] = task.priority_weight
            continue
        relatives = task.get_flat_relative_ids(upstream=task.weight_rule == "upstream")
        expected[task.task_id] = task.priority_weight + sum(
            dag.task_dict[t].priority_weight for t in relatives)
    assert priority_weights(DagStructure.from_dag(dag)) == expected
