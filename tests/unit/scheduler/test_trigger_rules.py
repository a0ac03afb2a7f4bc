"""Every trigger rule in real DAG runs: which upstream outcomes run, skip or fail a task."""

from __future__ import annotations

import itertools

import pytest

from millstream import DAG, TriggerRule
from millstream.exceptions import TaskSkipped
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator

from .harness import START, Engine

_ids = itertools.count()


def _fail() -> None:
    raise RuntimeError("planned failure")


def _skip() -> None:
    raise TaskSkipped("planned skip")


def _upstream(dag: DAG, task_id: str, outcome: str) -> object:
    """A task that ends in ``outcome``: success, failed, skipped or upstream_failed."""
    if outcome == "success":
        return EmptyOperator(task_id=task_id, dag=dag)
    if outcome == "failed":
        return PythonOperator(task_id=task_id, python_callable=_fail, dag=dag)
    if outcome == "skipped":
        return PythonOperator(task_id=task_id, python_callable=_skip, dag=dag)
    if outcome == "upstream_failed":
        parent = PythonOperator(task_id=f"{task_id}_parent", python_callable=_fail, dag=dag)
        child = EmptyOperator(task_id=task_id, dag=dag)
        parent >> child
        return child
    raise ValueError(outcome)


def _run_rule(rule: str, outcomes: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """Run a DAG of upstreams ending in ``outcomes`` feeding a target with ``rule``."""
    ran: list[str] = []
    dag = DAG(f"rule_{rule}_{next(_ids)}", start_date=START)
    target = PythonOperator(
        task_id="target", python_callable=lambda: ran.append("target"), trigger_rule=rule, dag=dag
    )
    for i, outcome in enumerate(outcomes):
        _upstream(dag, f"up{i}", outcome) >> target
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    states = engine.states(run)
    for i, outcome in enumerate(outcomes):
        assert states[f"up{i}"] == outcome, f"upstream {i} should have ended {outcome}"
    return states, ran


S, F, K, U = "success", "failed", "skipped", "upstream_failed"

RULE_CASES = [
    # rule, upstream outcomes, expected target state
    ("all_success", (S, S), S),
    ("all_success", (S, F), U),
    ("all_success", (S, K), K),
    ("all_success", (F, K), U),
    ("all_success", (S, U), U),
    ("all_failed", (F, F), S),
    ("all_failed", (F, U), S),
    ("all_failed", (F, S), K),
    ("all_failed", (F, K), K),
    ("all_done", (S, F, K), S),
    ("all_done", (U,), S),
    ("all_skipped", (K, K), S),
    ("all_skipped", (K, S), K),
    ("all_skipped", (K, F), K),
    ("one_success", (S, F), S),
    ("one_success", (S, K), S),
    ("one_success", (F, F), U),
    ("one_success", (K, F), U),
    ("one_success", (K, K), K),
    ("one_failed", (F, S), S),
    ("one_failed", (U, S), S),
    ("one_failed", (S, S), K),
    ("one_failed", (K, K), K),
    ("one_done", (S, K), S),
    ("one_done", (F, K), S),
    ("one_done", (K, K), K),
    ("one_done", (U, K), K),
    ("none_failed", (S, K), S),
    ("none_failed", (K, K), S),
    ("none_failed", (S, F), U),
    ("none_failed", (S, U), U),
    ("none_failed_min_one_success", (S, K), S),
    ("none_failed_min_one_success", (K, K), K),
    ("none_failed_min_one_success", (F, S), U),
    ("none_skipped", (S, F), S),
    ("none_skipped", (U,), S),
    ("none_skipped", (S, K), K),
    ("always", (F, K), S),
    ("always", (U, S), S),
    # with no setup upstream, a teardown's rule decides as all_done
    ("all_done_setup_success", (F, K), S),
    ("all_done_setup_success", (U, S), S),
]


@pytest.mark.parametrize(("rule", "outcomes", "expected"), RULE_CASES,
                         ids=[f"{r}-{'-'.join(o)}" for r, o, _ in RULE_CASES])
def test_trigger_rule_decides_target_state(rule: str, outcomes: tuple[str, ...],
                                           expected: str) -> None:
    states, ran = _run_rule(rule, outcomes)
    assert states["target"] == expected
    assert ran == (["target"] if expected == S else [])


def test_every_rule_is_covered_end_to_end() -> None:
    assert {case[0] for case in RULE_CASES} == {rule.value for rule in TriggerRule}


def test_always_runs_before_its_upstream_has_finished() -> None:
    dag = DAG("always_early", start_date=START)
    slow = EmptyOperator(task_id="slow", dag=dag)
    slow >> EmptyOperator(task_id="eager", trigger_rule="always", dag=dag)
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    assert engine.executor.held_ids() == {"slow", "eager"}
    assert engine.ti(run, "slow").state is TaskState.QUEUED


@pytest.mark.parametrize(("rule", "first", "expected"), [
    ("one_success", TaskState.SUCCESS, TaskState.QUEUED),
    ("one_failed", TaskState.FAILED, TaskState.QUEUED),
    ("one_done", TaskState.FAILED, TaskState.QUEUED),
    ("all_success", TaskState.FAILED, TaskState.UPSTREAM_FAILED),
    ("all_success", TaskState.SKIPPED, TaskState.SKIPPED),
    ("none_failed", TaskState.FAILED, TaskState.UPSTREAM_FAILED),
    ("all_failed", TaskState.SUCCESS, TaskState.SKIPPED),
    ("none_skipped", TaskState.SKIPPED, TaskState.SKIPPED),
])
def test_rules_decide_early_while_another_upstream_still_runs(
    rule: str, first: TaskState, expected: TaskState
) -> None:
    dag = DAG(f"early_{rule}_{next(_ids)}", start_date=START)
    target = EmptyOperator(task_id="target", trigger_rule=rule, dag=dag)
    [EmptyOperator(task_id="quick", dag=dag), EmptyOperator(task_id="slow", dag=dag)] >> target
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.start("slow")
    engine.executor.finish("quick", first)
    engine.tick()
    assert engine.ti(run, "slow").state is TaskState.RUNNING
    assert engine.ti(run, "target").state is expected


def test_all_done_waits_for_every_upstream() -> None:
    dag = DAG("all_done_waits", start_date=START)
    target = EmptyOperator(task_id="target", trigger_rule="all_done", dag=dag)
    [EmptyOperator(task_id="quick", dag=dag), EmptyOperator(task_id="slow", dag=dag)] >> target
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.finish("quick", TaskState.FAILED)
    engine.tick()
    assert engine.ti(run, "target").state is TaskState.NONE
    engine.executor.finish("slow", TaskState.SKIPPED)
    engine.tick()
    assert engine.ti(run, "target").state is TaskState.QUEUED


def test_branch_skips_the_paths_not_chosen_down_a_chain_to_the_join() -> None:
    with DAG("branch_chain", start_date=START) as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: "right")
        left = EmptyOperator(task_id="left")
        left2 = EmptyOperator(task_id="left2")
        left3 = EmptyOperator(task_id="left3")
        right = EmptyOperator(task_id="right")
        right2 = EmptyOperator(task_id="right2")
        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        strict_join = EmptyOperator(task_id="strict_join")  # all_success
        cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
        after_join = EmptyOperator(task_id="after_join")
        branch >> [left, right]
        left >> left2 >> left3
        right >> right2
        [left3, right2] >> join >> after_join
        [left3, right2] >> strict_join >> cleanup
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {
        "branch": S, "left": K, "left2": K, "left3": K, "right": S, "right2": S,
        "join": S, "after_join": S, "strict_join": K, "cleanup": S,
    }
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_branch_choosing_nothing_skips_every_direct_downstream() -> None:
    with DAG("branch_none", start_date=START) as dag:
        branch = BranchPythonOperator(task_id="branch", python_callable=lambda: None)
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
        branch >> [a, b] >> join
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {"branch": S, "a": K, "b": K, "join": K}
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_skip_propagates_down_a_chain_of_all_success_tasks() -> None:
    with DAG("skip_chain", start_date=START) as dag:
        skipper = PythonOperator(task_id="skipper", python_callable=_skip)
        t1 = EmptyOperator(task_id="t1")
        t2 = EmptyOperator(task_id="t2")
        t3 = EmptyOperator(task_id="t3")
        none_failed = EmptyOperator(task_id="none_failed", trigger_rule="none_failed")
        skipper >> t1 >> t2 >> t3 >> none_failed
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {"skipper": K, "t1": K, "t2": K, "t3": K, "none_failed": S}


def test_short_circuit_respecting_trigger_rules_skips_only_direct_downstream() -> None:
    with DAG("short_circuit", start_date=START) as dag:
        check = ShortCircuitOperator(task_id="check", python_callable=lambda: False,
                                     ignore_downstream_trigger_rules=False)
        direct = EmptyOperator(task_id="direct")
        later = EmptyOperator(task_id="later")
        report = EmptyOperator(task_id="report", trigger_rule="all_done")
        check >> direct >> later >> report
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {"check": S, "direct": K, "later": K, "report": S}


def test_short_circuit_ignoring_trigger_rules_skips_everything_downstream() -> None:
    with DAG("short_circuit_all", start_date=START) as dag:
        check = ShortCircuitOperator(task_id="check", python_callable=lambda: 0)
        direct = EmptyOperator(task_id="direct")
        report = EmptyOperator(task_id="report", trigger_rule="all_done")
        check >> direct >> report
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {"check": S, "direct": K, "report": K}


def test_upstream_failed_propagates_until_a_rule_that_tolerates_it() -> None:
    with DAG("upstream_failed_chain", start_date=START) as dag:
        broken = PythonOperator(task_id="broken", python_callable=_fail)
        t1 = EmptyOperator(task_id="t1")
        t2 = EmptyOperator(task_id="t2", trigger_rule="none_failed")
        t3 = EmptyOperator(task_id="t3", trigger_rule="one_success")
        cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
        alert = EmptyOperator(task_id="alert", trigger_rule="one_failed")
        final = EmptyOperator(task_id="final")
        broken >> t1 >> t2 >> t3 >> cleanup >> final
        t3 >> alert
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {
        "broken": F, "t1": U, "t2": U, "t3": U, "cleanup": S, "final": S, "alert": S,
    }
    # Every leaf (final, alert) succeeded, so the run succeeds despite the failure upstream.
    assert engine.run_record(run).state is DagRunState.SUCCESS
