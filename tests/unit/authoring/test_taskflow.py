"""TaskFlow: @task functions, XComArg passing, multiple outputs, ids, override, variants."""

from __future__ import annotations

from typing import Any

import pytest

from millstream import DAG, TaskGroup, XComArg, task
from millstream.exceptions import DagDefinitionError
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator


@task
def add(x: int, y: int = 0) -> int:
    return x + y


def test_calling_a_task_returns_an_xcom_arg_and_wires_the_dependency():
    with DAG("flow") as the_dag:
        first = add(1, 2)
        second = add(first, y=10)
    assert isinstance(first, XComArg)
    assert first.key == "return_value"
    assert first.operator.task_id == "add"
    assert second.operator.task_id == "add__1"
    assert the_dag.get_task("add__1").upstream_task_ids == {"add"}
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.xcom_pull("add") == 3
    assert result.xcom_pull("add__1") == 13


def test_xcom_args_nested_in_lists_and_dicts_are_resolved():
    @task
    def one():
        return 1

    @task
    def two():
        return 2

    @task
    def gather(items: list[int], mapping: dict[str, Any]):
        return {"items": items, "mapping": mapping}

    with DAG("nested_args") as the_dag:
        gather([one(), two(), 3], {"a": one(), "b": [two()]})
    assert the_dag.get_task("gather").upstream_task_ids == {"one", "two", "one__1", "two__1"}
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("gather") == {"items": [1, 2, 3], "mapping": {"a": 1, "b": [2]}}


def test_repeated_calls_get_numbered_ids():
    @task
    def step():
        return None

    with DAG("repeats") as the_dag:
        for _ in range(4):
            step()
    assert the_dag.task_ids == ["step", "step__1", "step__2", "step__3"]


def test_numbering_keeps_double_underscores_in_the_function_name():
    @task
    def load__raw():
        return None

    with DAG("underscores") as the_dag:
        load__raw()
        load__raw()
        load__raw()
    assert the_dag.task_ids == ["load__raw", "load__raw__1", "load__raw__2"]


def test_numbering_inside_a_group_uses_the_full_id():
    @task
    def step():
        return None

    with DAG("group_numbers") as the_dag:
        step()
        with TaskGroup("g"):
            step()
            step()
    assert the_dag.task_ids == ["step", "g.step", "g.step__1"]


def test_override_changes_operator_arguments():
    with DAG("overrides") as the_dag:
        a = add.override(task_id="first_add", retries=3, pool="math")(1, 1)
        b = add.override(task_id="first_add")(a, 1)
        add(b)
    assert the_dag.task_ids == ["first_add", "first_add__1", "add"]
    first = the_dag.get_task("first_add")
    assert (first.retries, first.pool) == (3, "math")
    assert the_dag.get_task("first_add__1").retries == 0
    assert add.operator_kwargs == {}  # the original is unchanged
    result = the_dag.test(logical_date="2026-01-01")
    assert [result.xcom_pull(t) for t in the_dag.task_ids] == [2, 3, 3]


def test_task_decorator_arguments_and_default_args():
    @task(task_id="custom", retries=2, queue="fast", doc_md="adds")
    def work():
        return 1

    with DAG("decorator_args", default_args={"owner": "team", "retries": 9}) as the_dag:
        work()
    t = the_dag.get_task("custom")
    assert (t.retries, t.queue, t.owner, t.doc_md) == (2, "fast", "team", "adds")
    assert isinstance(t, PythonOperator)


def test_task_python_is_the_same_as_task():
    @task.python
    def via_python():
        return "py"

    with DAG("task_python") as the_dag:
        via_python()
    assert the_dag.test(logical_date="2026-01-01").xcom_pull("via_python") == "py"


def test_multiple_outputs_pushes_each_key():
    @task(multiple_outputs=True)
    def split():
        return {"name": "ada", "age": 36}

    @task
    def describe(name, age):
        return f"{name} is {age}"

    with DAG("multi") as the_dag:
        parts = split()
        describe(parts["name"], parts["age"])
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.xcom_pull("split", "name") == "ada"
    assert result.xcom_pull("split", "age") == 36
    assert result.xcom_pull("split") == {"name": "ada", "age": 36}
    assert result.xcom_pull("describe") == "ada is 36"
    assert the_dag.get_task("describe").upstream_task_ids == {"split"}


def test_multiple_outputs_is_inferred_from_a_dict_return_annotation():
    @task
    def typed() -> dict[str, int]:
        return {"a": 1, "b": 2}

    @task
    def untyped():
        return {"a": 1}

    @task
    def listed() -> list[int]:
        return [1]

    @task(multiple_outputs=False)
    def opted_out() -> dict[str, int]:
        return {"a": 1}

    @task
    def consume(a, b):
        return a + b

    with DAG("inferred") as the_dag:
        values = typed()
        consume(values["a"], values["b"])
        untyped()
        listed()
        opted_out()
    assert the_dag.get_task("typed").multiple_outputs is True
    assert the_dag.get_task("untyped").multiple_outputs is False
    assert the_dag.get_task("listed").multiple_outputs is False
    assert the_dag.get_task("opted_out").multiple_outputs is False
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("consume") == 3
    assert result.xcom_pull("untyped", "a") is None
    assert result.xcom_pull("opted_out", "a") is None


def test_multiple_outputs_with_a_non_dict_fails_the_task():
    @task(multiple_outputs=True)
    def wrong():
        return [1, 2]

    with DAG("not_a_dict") as the_dag:
        wrong()
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"wrong": "failed"}
    assert "multiple_outputs=True but returned list" in result.tasks[0].error


def test_a_task_receives_declared_context_keys():
    @task
    def dated(value, ds=None, ti=None, params=None):
        return [value, ds, ti.task_id, params["p"]]

    @task
    def everything(**context):
        return sorted(k for k in ("ds", "run_id", "ti", "dag", "params") if k in context)

    with DAG("context_keys", params={"p": "x"}) as the_dag:
        dated(5)
        everything()
    result = the_dag.test(logical_date="2026-01-02")
    assert result.xcom_pull("dated") == [5, "2026-01-02", "dated", "x"]
    assert result.xcom_pull("everything") == ["dag", "ds", "params", "run_id", "ti"]


def test_xcom_arg_shifts_like_a_task():
    @task
    def produce():
        return 1

    with DAG("xcom_shift") as the_dag:
        before = EmptyOperator(task_id="before")
        after = EmptyOperator(task_id="after")
        before >> produce() >> after
    assert the_dag.get_task("produce").upstream_task_ids == {"before"}
    assert after.upstream_task_ids == {"produce"}


def test_classic_operator_output_feeds_a_task_and_a_classic_operator():
    @task
    def double(v):
        return v * 2

    with DAG("mixed_output") as the_dag:
        source = PythonOperator(task_id="source", python_callable=lambda: 21)
        doubled = double(source.output)
        PythonOperator(task_id="sink", python_callable=lambda v: v + 1,
                       op_args=[doubled])
        PythonOperator(task_id="sink_kw", python_callable=lambda v: v - 1,
                       op_kwargs={"v": source.output})
    assert the_dag.get_task("double").upstream_task_ids == {"source"}
    assert the_dag.get_task("sink").upstream_task_ids == {"double"}
    assert the_dag.get_task("sink_kw").upstream_task_ids == {"source"}
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("sink") == 43
    assert result.xcom_pull("sink_kw") == 20


def test_xcom_args_in_classic_template_fields_wire_and_resolve():
    from millstream.operators.bash import BashOperator

    @task
    def command():
        return "echo from-upstream"

    @task
    def setting():
        return "configured"

    with DAG("classic_xcom_fields") as the_dag:
        run = BashOperator(task_id="run", bash_command=command())
        mapped = BashOperator.partial(task_id="mapped", env={"S": setting()}).expand(
            bash_command=["echo 1-$S", "echo 2-$S"])
    assert run.upstream_task_ids == {"command"}
    assert mapped.upstream_task_ids == {"setting"}
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("run") == "from-upstream"
    assert result.xcom_pull("mapped") == ["1-configured", "2-configured"]


def test_passing_an_xcom_arg_to_a_task_of_another_dag_is_an_error():
    with DAG("producer_dag"):
        produced = add(1, 1)
    with pytest.raises(DagDefinitionError) as info, DAG("consumer_dag"):
        add(produced)
    message = str(info.value)
    assert "'producer_dag'" in message and "'consumer_dag'" in message
    assert "'add'" in message


def test_calling_a_task_outside_a_dag_is_an_error():
    with pytest.raises(DagDefinitionError) as info:
        add(1, 2)
    assert "'add'" in str(info.value)
    assert "outside any DAG" in str(info.value)


def test_expanding_a_task_outside_a_dag_is_an_error():
    with pytest.raises(DagDefinitionError, match=r"task 'add' was called outside any DAG"):
        add.expand(x=[1, 2])
    with pytest.raises(DagDefinitionError, match=r"task 'add' was called outside any DAG"):
        add.partial(y=1).expand(x=[1, 2])


def test_calling_a_task_with_wrong_arguments_is_a_definition_error():
    with pytest.raises(DagDefinitionError, match=r"task 'add'.*unexpected keyword.*'z'"), \
            DAG("bad_call"):
        add(1, z=2)
    with pytest.raises(DagDefinitionError, match=r"task 'add'.*missing.*'x'"), \
            DAG("missing_arg"):
        add()


def test_the_decorated_function_keeps_its_name_and_doc():
    @task
    def documented():
        """Explains itself."""

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Explains itself."
    assert documented.function() is None  # the plain function is still callable


def test_branch_decorator_follows_the_returned_task():
    @task.branch
    def pick(params=None):
        return "left" if params["side"] == "left" else ["right", "middle"]

    with DAG("branch_flow", params={"side": "left"}) as the_dag:
        chosen = pick()
        chosen >> [EmptyOperator(task_id=n) for n in ("left", "middle", "right")]
    left = the_dag.test(logical_date="2026-01-01")
    assert left.task_states == {"pick": "success", "left": "success", "middle": "skipped",
                                "right": "skipped"}
    assert left.xcom_pull("pick") == "left"
    both = the_dag.test(logical_date="2026-01-01", conf={"side": "right"})
    assert both.task_states["left"] == "skipped"
    assert both.task_states["middle"] == both.task_states["right"] == "success"


def test_short_circuit_decorator_respecting_downstream_trigger_rules():
    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def gate():
        return False

    with DAG("short_rules") as the_dag:
        gate() >> EmptyOperator(task_id="direct") >> EmptyOperator(
            task_id="finally", trigger_rule="all_done")
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"gate": "success", "direct": "skipped",
                                  "finally": "success"}


def test_short_circuit_decorator():
    @task.short_circuit
    def has_data(rows):
        return len(rows) > 0

    @task
    def rows(n):
        return list(range(n))

    @task
    def process(r):
        return len(r)

    for n, expected in ((2, "success"), (0, "skipped")):
        with DAG(f"short_{n}") as the_dag:
            data = rows(n)
            has_data(data) >> process(data)
        result = the_dag.test(logical_date="2026-01-01")
        assert result.state == "success"
        assert result.task_states["has_data"] == "success"
        assert result.task_states["process"] == expected
