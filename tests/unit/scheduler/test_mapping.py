"""Mapped tasks in the scheduler: expansion from literals and upstream XComs, and its edges."""

from __future__ import annotations

from typing import Any

from millstream import DAG, task
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator

from .harness import START, Engine


def test_a_literal_expansion_creates_one_instance_per_element() -> None:
    seen: list[int] = []
    with DAG("literal_map", start_date=START) as dag:
        @task
        def double(x: int) -> int:
            seen.append(x)
            return 2 * x

        @task
        def total(values: list[int]) -> int:
            return sum(values)

        total(double.expand(x=[1, 2, 3]))
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.run_record(run).state is DagRunState.SUCCESS
    assert sorted(seen) == [1, 2, 3]
    assert engine.states(run) == {
        "double[0]": "success", "double[1]": "success", "double[2]": "success", "total": "success",
    }
    assert engine.store.xcoms.get_xcom(dag.dag_id, run.run_id, "total", -1, "return_value") == "12"


def test_an_expansion_over_an_upstream_result_waits_for_it() -> None:
    with DAG("xcom_map", start_date=START) as dag:
        @task
        def files() -> list[str]:
            return ["a.csv", "b.csv"]

        @task
        def load(path: str) -> str:
            return path.upper()

        load.expand(path=files())
    engine = Engine(dag, held=True)
    run = engine.trigger(dag)
    engine.tick()
    assert engine.ti(run, "load").state is TaskState.NONE  # still the placeholder
    engine.executor.run("files", engine.store.xcoms)
    engine.tick()
    assert engine.executor.held_ids() == {"load[0]", "load[1]"}
    engine.executor.run("load", engine.store.xcoms, map_index=1)
    engine.executor.run("load", engine.store.xcoms, map_index=0)
    engine.tick()
    assert engine.run_record(run).state is DagRunState.SUCCESS
    assert engine.store.xcoms.get_mapped_xcoms(dag.dag_id, run.run_id, "load",
                                               "return_value") == ['"A.CSV"', '"B.CSV"']


def test_an_empty_expansion_skips_the_task_and_what_needs_it() -> None:
    with DAG("empty_map", start_date=START) as dag:
        @task
        def nothing() -> list[int]:
            return []

        @task
        def each(x: int) -> int:
            return x

        mapped = each.expand(x=nothing())
        mapped >> EmptyOperator(task_id="after")
        mapped >> EmptyOperator(task_id="regardless", trigger_rule="all_done")
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {
        "nothing": "success", "each": "skipped", "after": "skipped", "regardless": "success",
    }
    assert engine.run_record(run).state is DagRunState.SUCCESS


def test_expanding_over_something_that_is_not_a_list_fails_the_task() -> None:
    with DAG("bad_map", start_date=START) as dag:
        @task
        def scalar() -> int:
            return 7

        @task
        def each(x: int) -> int:
            return x

        each.expand(x=scalar())
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    ti = engine.ti(run, "each")
    assert ti.state is TaskState.FAILED
    assert "'each'" in (ti.error or "") and "list or dict" in (ti.error or "")
    assert engine.run_record(run).state is DagRunState.FAILED


def test_one_failed_instance_fails_the_downstream_of_the_mapped_task() -> None:
    with DAG("partial_failure", start_date=START) as dag:
        @task
        def check(x: int) -> int:
            if x == 2:
                raise ValueError("two is bad")
            return x

        @task
        def summary(values: Any) -> None:
            return None

        summary(check.expand(x=[1, 2, 3]))
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.states(run) == {
        "check[0]": "success", "check[1]": "failed", "check[2]": "success",
        "summary": "upstream_failed",
    }
    assert engine.run_record(run).state is DagRunState.FAILED


def test_mapping_over_a_mapped_result_chains_expansions() -> None:
    with DAG("map_of_map", start_date=START) as dag:
        @task
        def plus_one(x: int) -> int:
            return x + 1

        @task
        def square(x: int) -> int:
            return x * x

        square.expand(x=plus_one.expand(x=[1, 2, 3]))
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.run_record(run).state is DagRunState.SUCCESS
    texts = engine.store.xcoms.get_mapped_xcoms(dag.dag_id, run.run_id, "square", "return_value")
    assert texts == ["4", "9", "16"]


def test_a_failed_mapped_instance_is_retried_on_its_own() -> None:
    tries: dict[int, list[int]] = {}
    with DAG("mapped_retry", start_date=START) as dag:
        @task(retries=1, retry_delay=60)
        def fetch(page: int, ti: Any = None) -> int:
            tries.setdefault(page, []).append(ti.try_number)
            if page == 2 and ti.try_number == 1:
                raise ConnectionError("page 2 timed out")
            return page

        fetch.expand(page=[1, 2, 3])
    engine = Engine(dag)
    run = engine.run_to_end(engine.trigger(dag))
    assert engine.run_record(run).state is DagRunState.SUCCESS
    assert tries == {1: [1], 2: [1, 2], 3: [1]}
    assert [engine.ti(run, "fetch", i).try_number for i in range(3)] == [1, 2, 1]
