"""``max_consecutive_failed_dag_runs``: a DAG whose last N runs failed gets paused."""

from __future__ import annotations

from datetime import timedelta

from millstream import DAG
from millstream.model.states import DagRunState
from millstream.operators.python import PythonOperator

from .harness import START, Engine


def _fail() -> None:
    raise RuntimeError("broken")


def _dag(limit: int, fail: bool = True) -> DAG:
    with DAG("flaky", schedule=None, start_date=START,
             max_consecutive_failed_dag_runs=limit) as dag:
        PythonOperator(task_id="t", python_callable=_fail if fail else (lambda: None))
    return dag


def test_the_dag_is_paused_once_its_last_runs_all_failed() -> None:
    dag = _dag(2)
    engine = Engine(dag)
    structure = engine.scheduler.dags["flaky"]
    engine.store.dags.upsert("flaky", None, structure.to_json(), structure.version, START,
                             paused_on_create=False)
    first = engine.run_to_end(engine.trigger(dag, START))
    assert first.state is DagRunState.FAILED
    assert not engine.store.dags.get("flaky").is_paused  # one failure of two
    second = engine.run_to_end(engine.trigger(dag, START + timedelta(days=1)))
    assert second.state is DagRunState.FAILED
    assert engine.store.dags.get("flaky").is_paused


def test_a_success_between_failures_starts_the_count_again() -> None:
    failing, passing = _dag(2), _dag(2, fail=False)
    engine = Engine(failing)
    structure = engine.scheduler.dags["flaky"]
    engine.store.dags.upsert("flaky", None, structure.to_json(), structure.version, START,
                             paused_on_create=False)
    engine.run_to_end(engine.trigger(failing, START))
    engine.set_dags(passing)
    assert engine.run_to_end(engine.trigger(passing, START + timedelta(days=1))).state \
        is DagRunState.SUCCESS
    engine.set_dags(failing)
    engine.run_to_end(engine.trigger(failing, START + timedelta(days=2)))
    assert not engine.store.dags.get("flaky").is_paused


def test_dag_test_of_such_a_dag_just_fails() -> None:
    assert _dag(1).test().state == "failed"
