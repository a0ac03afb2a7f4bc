"""XComArg map / zip / concat, and expand_kwargs, in real runs through dag.test()."""

from __future__ import annotations

import pytest

from millstream import DAG, task
from millstream.authoring.mapping import ExpandSource
from millstream.exceptions import DagDefinitionError
from millstream.operators.bash import BashOperator


@task
def numbers():
    return [1, 2, 3]


@task
def letters():
    return ["a", "b"]


@task
def collect(values):
    return values


def test_map_transforms_each_item_and_keeps_the_count():
    @task
    def show(value):
        return value

    with DAG("xmap") as the_dag:
        show.expand(value=numbers().map(lambda n: n * 10))
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert [result.xcom_pull("show", map_index=i) for i in range(3)] == [10, 20, 30]


def test_map_is_chainable_and_usable_as_a_plain_argument():
    with DAG("xmap_chain") as the_dag:
        collect(numbers().map(lambda n: n + 1).map(str))
    result = the_dag.test(logical_date="2026-01-01")
    assert result.xcom_pull("collect") == ["2", "3", "4"]


def test_zip_stops_at_the_shortest_input_unless_a_fillvalue_is_given():
    @task
    def pair(value):
        return list(value)

    with DAG("xzip") as the_dag:
        pair.expand(value=numbers().zip(letters()))
        collect(numbers().zip(letters(), fillvalue="-"))
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert sorted(k for k in result.task_states if k.startswith("pair")) == ["pair[0]", "pair[1]"]
    assert result.xcom_pull("pair", map_index=1) == [2, "b"]
    assert result.xcom_pull("collect") == [[1, "a"], [2, "b"], [3, "-"]]


def test_concat_adds_the_items_of_each_input():
    @task
    def show(value):
        return value

    with DAG("xconcat") as the_dag:
        show.expand(value=numbers().concat(letters(), ["z"]))
    result = the_dag.test(logical_date="2026-01-01")
    assert [result.xcom_pull("show", map_index=i) for i in range(6)] == [1, 2, 3, "a", "b", "z"]


def test_derived_values_wire_every_upstream():
    with DAG("xwire"):
        first, second = numbers(), letters()
        combined = collect(first.zip(second))
    assert combined.operator.upstream_task_ids == {"numbers", "letters"}


def test_expand_source_of_a_combination_round_trips_through_json():
    source = ExpandSource(kind="zip", fill=True, parts=(
        ExpandSource(None, "a", "return_value"),
        ExpandSource(kind="map", parts=(ExpandSource(3),)),
    ))
    assert ExpandSource.from_json(source.to_json()) == source
    values = {"a": [1, 2, 3, 4, 5]}
    assert source.count(lambda task_id, key: values[task_id], "v", "t") == 5


def test_expand_kwargs_on_a_classic_operator():
    with DAG("xkwargs") as the_dag:
        BashOperator.partial(task_id="b").expand_kwargs([
            {"bash_command": "echo $V", "env": {"V": "one"}},
            {"bash_command": "echo two"},
        ])
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert [result.xcom_pull("b", map_index=i) for i in range(2)] == ["one", "two"]


def test_expand_kwargs_on_a_decorated_task_over_an_upstream_output():
    @task
    def make():
        return [{"x": 1, "y": 2}, {"x": 3, "y": 4}]

    @task
    def add(x, y):
        return x + y

    with DAG("xkwargs_taskflow") as the_dag:
        add.expand_kwargs(make())
    result = the_dag.test(logical_date="2026-01-01")
    assert [result.xcom_pull("add", map_index=i) for i in range(2)] == [3, 7]


def test_expand_kwargs_element_that_is_not_a_dict_fails_the_instance():
    @task
    def make():
        return [{"x": 1}, 5]

    @task
    def show(x):
        return x

    with DAG("xkwargs_bad") as the_dag:
        show.expand_kwargs(make())
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states["show[0]"] == "success"
    assert result.task_states["show[1]"] == "failed"


def test_expand_kwargs_rejects_a_literal_that_is_not_a_list_of_dicts():
    with DAG("xkwargs_literal"), pytest.raises(DagDefinitionError,
                                                match="expand_kwargs\\(\\) needs a list of dicts"):
        BashOperator.partial(task_id="b").expand_kwargs(["echo"])


def test_map_index_template_is_kept_on_the_task():
    with DAG("xtemplate"):
        mapped = BashOperator.partial(
            task_id="b", map_index_template="{{ task.bash_command }}"
        ).expand(bash_command=["echo 1"])
    assert mapped.partial_kwargs["map_index_template"] == "{{ task.bash_command }}"
