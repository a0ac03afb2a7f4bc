"""Setup and teardown tasks in real runs: the teardown runs after failed work, and does not
decide the run's state unless asked to."""

from __future__ import annotations

import itertools

from millstream import DAG
from millstream.exceptions import TaskSkipped
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator

from .harness import START, Engine

_ids = itertools.count()


def _fail() -> None:
    raise RuntimeError("planned failure")


def _skip() -> None:
    raise TaskSkipped("planned skip")


def _task(dag: DAG, task_id: str, outcome: str = "success") -> PythonOperator:
    action = {"success": lambda: None, "failed": _fail, "skipped": _skip}[outcome]
    return PythonOperator(task_id=task_id, python_callable=action, dag=dag)


def _run(dag: DAG) -> tuple[str, dict[str, str]]:
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    return run.state.value, engine.states(run)


def _dag() -> DAG:
    return DAG(f"setup_teardown_{next(_ids)}", start_date=START)


def test_teardown_runs_after_failed_work_and_the_run_fails_by_the_work() -> None:
    dag = _dag()
    create = _task(dag, "create").as_setup()
    work = _task(dag, "work", "failed")
    delete = _task(dag, "delete").as_teardown(setups=create)
    create >> work >> delete
    state, states = _run(dag)
    assert states == {"create": "success", "work": "failed", "delete": "success"}
    assert state == "failed"


def test_teardown_failure_does_not_fail_the_run_by_default() -> None:
    dag = _dag()
    create = _task(dag, "create").as_setup()
    work = _task(dag, "work")
    delete = _task(dag, "delete", "failed").as_teardown(setups=create)
    create >> work >> delete
    state, states = _run(dag)
    assert states["delete"] == "failed"
    assert state == "success"


def test_teardown_failure_fails_the_run_with_on_failure_fail_dagrun() -> None:
    dag = _dag()
    create = _task(dag, "create").as_setup()
    work = _task(dag, "work")
    delete = _task(dag, "delete", "failed").as_teardown(
        setups=create, on_failure_fail_dagrun=True
    )
    create >> work >> delete
    state, _ = _run(dag)
    assert state == "failed"


def test_failed_setup_leaves_the_teardown_upstream_failed() -> None:
    dag = _dag()
    create = _task(dag, "create", "failed").as_setup()
    work = _task(dag, "work")
    delete = _task(dag, "delete").as_teardown(setups=create)
    create >> work >> delete
    state, states = _run(dag)
    assert states == {"create": "failed", "work": "upstream_failed",
                      "delete": "upstream_failed"}
    assert state == "failed"


def test_skipped_setup_skips_the_teardown() -> None:
    dag = _dag()
    create = _task(dag, "create", "skipped").as_setup()
    work = _task(dag, "work")
    delete = _task(dag, "delete").as_teardown(setups=create)
    create >> work >> delete
    state, states = _run(dag)
    assert states == {"create": "skipped", "work": "skipped", "delete": "skipped"}
    assert state == "success"


def test_work_in_scope_of_a_failed_indirect_setup_is_upstream_failed_whatever_its_rule() -> None:
    dag = _dag()
    create = _task(dag, "create", "failed").as_setup()
    first = _task(dag, "first")
    tolerant = PythonOperator(task_id="tolerant", python_callable=lambda: None,
                              trigger_rule="all_done", dag=dag)
    delete = _task(dag, "delete").as_teardown(setups=create)
    create >> first >> tolerant >> delete
    _, states = _run(dag)
    # all_done alone would run "tolerant"; its setup failed, so it must not
    assert states["tolerant"] == "upstream_failed"


def test_task_after_a_teardown_waits_for_it_but_the_run_state_ignores_it() -> None:
    dag = _dag()
    create = _task(dag, "create").as_setup()
    work = _task(dag, "work")
    delete = _task(dag, "delete", "failed").as_teardown(setups=create)
    after = EmptyOperator(task_id="after", trigger_rule="all_done", dag=dag)
    create >> work >> delete >> after
    state, states = _run(dag)
    assert states["after"] == "success"
    assert state == "success"


def test_clearing_the_work_reruns_its_setup_and_teardown() -> None:
    from datetime import UTC, datetime

    from millstream.services import clear
    from millstream.testing import serialized

    runs: list[str] = []
    dag = _dag()
    create = PythonOperator(task_id="create", python_callable=lambda: runs.append("create"),
                            dag=dag).as_setup()
    work = PythonOperator(task_id="work", python_callable=lambda: runs.append("work"),
                          dag=dag)
    delete = PythonOperator(task_id="delete", python_callable=lambda: runs.append("delete"),
                            dag=dag).as_teardown(setups=create)
    other = EmptyOperator(task_id="other", dag=dag)
    create >> work >> delete
    engine = Engine(dag)
    structure = serialized([dag])[dag.dag_id]
    engine.store.dags.upsert(dag.dag_id, None, structure.to_json(), structure.version,
                             datetime(2026, 1, 1, tzinfo=UTC))
    run = engine.run_to_end(engine.trigger(dag))
    assert runs == ["create", "work", "delete"]
    chosen = clear.select_tasks(structure, "^work$")
    assert chosen == {"create", "work", "delete"}
    clear.clear(engine.store, structure, dag.dag_id, [run.run_id], chosen, "ann",
                datetime(2026, 2, 1, tzinfo=UTC))
    engine.scheduler.poke()
    again = engine.run_to_end(run)
    assert again.state.value == "success"
    assert runs == ["create", "work", "delete"] * 2
    assert engine.states(again)["other"] == "success"
    assert other.task_id not in chosen
