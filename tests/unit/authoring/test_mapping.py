"""Dynamic task mapping: partial().expand() over literals and upstream XComs."""

from __future__ import annotations

import pytest

from millstream import DAG, TaskGroup, task
from millstream.authoring.mapping import MappedOperator
from millstream.exceptions import DagDefinitionError
from millstream.operators.bash import BashOperator
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator


@task
def collect(values):
    return values


def test_classic_operator_over_a_literal_list():
    with DAG("bash_map") as the_dag:
        mapped = BashOperator.partial(task_id="b", env={"X": "x"}).expand(
            bash_command=["echo one-$X", "echo two-$X", "echo three-$X"]
        )
        collect(mapped.output)
    assert isinstance(mapped, MappedOperator)
    assert mapped.is_mapped
    assert mapped.task_id == "b"
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.task_states == {"b[0]": "success", "b[1]": "success", "b[2]": "success",
                                  "collect": "success"}
    assert [t.label for t in result.tasks] == ["b[0]", "b[1]", "b[2]", "collect"]
    assert result.xcom_pull("collect") == ["one-x", "two-x", "three-x"]
    assert result.xcom_pull("b", map_index=1) == "two-x"


def test_classic_python_operator_over_op_args():
    with DAG("python_map") as the_dag:
        squares = PythonOperator.partial(task_id="square", python_callable=lambda n: n * n)
        squares = squares.expand(op_args=[[1], [2], [3], [4]])
        collect(squares.output)
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("collect") == [1, 4, 9, 16]


def test_taskflow_over_a_literal_list_with_fixed_arguments():
    @task
    def scale(value, factor):
        return value * factor

    with DAG("tf_map") as the_dag:
        scaled = scale.partial(factor=10).expand(value=[1, 2, 3])
        collect(scaled)
    assert the_dag.get_task("collect").upstream_task_ids == {"scale"}
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"scale[0]": "success", "scale[1]": "success",
                                  "scale[2]": "success", "collect": "success"}
    assert result.xcom_pull("collect") == [10, 20, 30]


def test_taskflow_expand_without_partial_and_over_a_dict():
    @task
    def show(pair):
        key, value = pair
        return f"{key}={value}"

    with DAG("dict_map") as the_dag:
        collect(show.expand(pair={"a": 1, "b": 2}))
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("collect") == ["a=1", "b=2"]


def test_over_an_upstream_list_keeps_the_order():
    @task
    def files():
        return ["c.csv", "a.csv", "b.csv", "d.csv", "e.csv", "f.csv", "g.csv", "h.csv",
                "i.csv", "j.csv", "k.csv", "l.csv"]

    @task
    def size(name, ti=None):
        return f"{ti.map_index}:{name}"

    with DAG("upstream_map") as the_dag:
        sizes = size.expand(name=files())
        collect(sizes)
    assert the_dag.get_task("size").upstream_task_ids == {"files"}
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    labels = [t.label for t in result.tasks if t.label.startswith("size")]
    assert labels == [f"size[{i}]" for i in range(12)]
    collected = result.xcom_pull("collect")
    assert collected[:3] == ["0:c.csv", "1:a.csv", "2:b.csv"]
    assert collected[10:] == ["10:k.csv", "11:l.csv"]


def test_classic_operator_over_an_upstream_xcom():
    @task
    def commands():
        return ["echo alpha", "echo beta"]

    with DAG("classic_upstream") as the_dag:
        BashOperator.partial(task_id="run").expand(bash_command=commands())
    assert the_dag.get_task("run").upstream_task_ids == {"commands"}
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("run") == ["alpha", "beta"]


def test_mapping_over_a_mapped_task():
    @task
    def inc(x):
        return x + 1

    with DAG("map_of_map") as the_dag:
        first = inc.expand(x=[1, 2, 3])
        second = inc.expand(x=first)
        collect(second)
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("collect") == [3, 4, 5]
    assert result.task_states["inc__1[2]"] == "success"


def test_two_expanded_arguments_form_a_cross_product():
    @task
    def pair(letter, number):
        return f"{letter}{number}"

    with DAG("product") as the_dag:
        collect(pair.expand(letter=["a", "b"], number=[1, 2, 3]))
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("collect") == ["a1", "a2", "a3", "b1", "b2", "b3"]


def test_an_empty_literal_list_skips_the_task_and_its_downstream():
    @task
    def never(x):
        raise AssertionError("must not run")

    with DAG("empty_literal") as the_dag:
        mapped = never.expand(x=[])
        after = EmptyOperator(task_id="after")
        done = EmptyOperator(task_id="done", trigger_rule="all_done")
        mapped >> after >> done
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.task_states == {"never": "skipped", "after": "skipped", "done": "success"}


def test_an_empty_upstream_list_skips_the_mapped_task():
    @task
    def nothing():
        return []

    @task
    def per_item(x):
        return x

    with DAG("empty_upstream") as the_dag:
        per_item.expand(x=nothing())
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.task_states == {"nothing": "success", "per_item": "skipped"}


@pytest.mark.parametrize(("value", "kind"), [(5, "int"), ("abc", "str"), (True, "bool")])
def test_expanding_over_a_non_list_upstream_value_fails_that_task(value, kind):
    @task
    def produce():
        return value

    @task
    def per_item(x):
        return x

    with DAG("not_a_list") as the_dag:
        mapped = per_item.expand(x=produce())
        EmptyOperator(task_id="after") << mapped
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "failed"
    assert result.task_states == {"produce": "success", "per_item": "failed",
                                  "after": "upstream_failed"}
    error = {t.label: t.error for t in result.tasks}["per_item"]
    assert error == f"task 'per_item': expanded argument 'x' must be a list or dict, got {kind}"


def test_expanding_over_an_upstream_that_returned_none_fails_that_task():
    @task
    def produce():
        return None

    @task
    def per_item(x):
        return x

    with DAG("none_to_map") as the_dag:
        per_item.expand(x=produce())
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"produce": "success", "per_item": "failed"}
    error = {t.label: t.error for t in result.tasks}["per_item"]
    assert "'produce'" in error and "expand" in error


def test_bad_expand_argument_names_are_definition_errors():
    with pytest.raises(DagDefinitionError) as info, DAG("bad_name"):
        BashOperator.partial(task_id="b").expand(bash_comand=["echo"])
    message = str(info.value)
    assert "DAG 'bad_name'" in message and "'b'" in message
    assert "BashOperator has no argument 'bash_comand'" in message

    @task
    def work(value):
        return value

    with pytest.raises(DagDefinitionError, match=r"task 'work' has no argument 'valu'"), \
            DAG("bad_tf_name"):
        work.expand(valu=[1])
    with pytest.raises(DagDefinitionError, match=r"task 'work' has no argument 'extra'"), \
            DAG("bad_tf_partial"):
        work.partial(extra=1).expand(value=[1])


def test_other_expand_misuse_is_a_definition_error():
    with DAG("misuse"):
        with pytest.raises(DagDefinitionError, match=r"needs at least one argument"):
            BashOperator.partial(task_id="none").expand()
        with pytest.raises(DagDefinitionError, match=r"expand\(bash_command=...\) needs a list"):
            BashOperator.partial(task_id="scalar").expand(bash_command="echo")
        with pytest.raises(DagDefinitionError, match=r"'task_id' cannot be expanded"):
            BashOperator.partial(task_id="tid").expand(task_id=["a"])
        with pytest.raises(DagDefinitionError, match=r"unknown arguments: colour"):
            BashOperator.partial(task_id="typo", colour="red").expand(bash_command=["echo"])
        with pytest.raises(DagDefinitionError, match=r"partial\(\) needs a task_id"):
            BashOperator.partial(bash_command="echo")


def test_mapped_task_inside_a_group_with_default_args():
    with DAG("group_map", default_args={"retries": 2}) as the_dag, \
            TaskGroup("g", default_args={"env": {"WHO": "group"}}):
        mapped = BashOperator.partial(task_id="hello").expand(
            bash_command=["echo 1-$WHO", "echo 2-$WHO"]
        )
    assert mapped.task_id == "g.hello"
    assert mapped.retries == 2
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"g.hello[0]": "success", "g.hello[1]": "success"}
    assert result.xcom_pull("g.hello") == ["1-group", "2-group"]


def test_each_mapped_instance_retries_and_fails_on_its_own():
    @task(retries=1)
    def check(n, ti=None):
        if n == 2 and ti.try_number == 1:
            raise RuntimeError("flaky once")
        if n == 3:
            raise RuntimeError("always broken")
        return n

    with DAG("mapped_retries") as the_dag:
        check.expand(n=[1, 2, 3])
    result = the_dag.test(logical_date="2026-01-01", fast_retries=True)
    assert result.state == "failed"
    assert result.task_states == {"check[0]": "success", "check[1]": "success",
                                  "check[2]": "failed"}
    tries = {t.label: t.tries for t in result.tasks}
    assert tries == {"check[0]": 1, "check[1]": 2, "check[2]": 2}
    assert "always broken" in {t.label: t.error for t in result.tasks}["check[2]"]


def test_mapped_templates_are_rendered_per_instance():
    with DAG("mapped_templates", params={"greeting": "hi"}) as the_dag:
        BashOperator.partial(task_id="t").expand(
            bash_command=["echo {{ params.greeting }} {{ ti.map_index }}",
                          "echo {{ ds_nodash }} {{ ti.map_index }}"]
        )
    result = the_dag.test(logical_date="2026-07-04")
    assert result.xcom_pull("t") == ["hi 0", "20260704 1"]
