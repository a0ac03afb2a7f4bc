"""A tick reads its outcomes' run once: the outcome's instance with what readiness needs."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import pytest

from millstream import DAG, chain
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator

from .harness import START, Engine


def _count_run_reads(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[Collection[str]]:
    """The task ids of each read of a run's instances the scheduler makes from now on."""
    asked: list[Collection[str]] = []
    repo = engine.scheduler.store.task_instances
    for name in ("for_run", "for_run_holding_run"):
        original: Callable[..., Any] = getattr(repo, name)

        def counted(dag_id: str, run_id: str, task_ids: Collection[str] | None = None,
                    original: Callable[..., Any] = original) -> Any:
            asked.append(sorted(task_ids) if task_ids is not None else ["(all)"])
            return original(dag_id, run_id, task_ids)

        monkeypatch.setattr(repo, name, counted)
    return asked


def test_a_chain_handoff_reads_the_run_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with DAG("line", start_date=START, schedule=None) as dag:
        chain(*(EmptyOperator(task_id=name) for name in ("a", "b", "c")))
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    assert engine.executor.held_ids() == {"a"}
    asked = _count_run_reads(engine, monkeypatch)
    engine.executor.finish("a", run_id=run.run_id)
    engine.tick()
    # a's outcome, b's instance and b's upstream (a) in one read; readiness reads nothing.
    assert asked == [["a", "b"]]
    assert engine.ti(run, "a").state is TaskState.SUCCESS
    assert engine.ti(run, "b").state in (TaskState.SCHEDULED, TaskState.QUEUED)
    assert engine.executor.held_ids() == {"b"}


def test_a_join_waits_for_the_upstream_still_running() -> None:
    """The instances kept for readiness are those of this tick: an upstream that is
    still running keeps the join waiting, the last one to end releases it."""
    with DAG("join", start_date=START, schedule=None) as dag:
        left, right, join = (EmptyOperator(task_id=n) for n in ("left", "right", "join"))
        [left, right] >> join
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    assert engine.executor.held_ids() == {"left", "right"}
    engine.executor.finish("left", run_id=run.run_id)
    engine.tick()
    assert engine.ti(run, "join").state is TaskState.NONE
    engine.executor.finish("right", run_id=run.run_id)
    engine.tick()
    assert engine.executor.held_ids() == {"join"}
    engine.executor.finish("join", run_id=run.run_id)
    assert engine.run_to_end(run).state is DagRunState.SUCCESS


def test_a_failed_outcome_is_seen_by_readiness_in_the_same_tick() -> None:
    with DAG("fails", start_date=START, schedule=None) as dag:
        chain(*(EmptyOperator(task_id=name) for name in ("a", "b", "c")))
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    engine.executor.finish("a", run_id=run.run_id, state=TaskState.FAILED)
    engine.tick()
    assert engine.ti(run, "b").state is TaskState.UPSTREAM_FAILED
    assert engine.ti(run, "c").state is TaskState.UPSTREAM_FAILED
    assert engine.run_record(run).state is DagRunState.FAILED


def test_outcomes_of_two_runs_in_one_tick_are_kept_apart() -> None:
    with DAG("two", start_date=START, schedule=None, max_active_runs=2) as dag:
        chain(*(EmptyOperator(task_id=name) for name in ("a", "b")))
    engine = Engine(dag, held=True)
    first = engine.trigger(dag)
    second = engine.trigger(dag, START.replace(day=2))
    engine.tick()
    engine.executor.finish("a", run_id=first.run_id)
    engine.executor.finish("a", run_id=second.run_id, state=TaskState.FAILED)
    engine.tick()
    states: dict[str, Any] = {
        run.run_id: engine.ti(run, "b").state for run in (first, second)}
    assert states[first.run_id] in (TaskState.SCHEDULED, TaskState.QUEUED)
    assert states[second.run_id] is TaskState.UPSTREAM_FAILED
