"""@task_group, and task groups mapped with .expand() / .partial() / .expand_kwargs()."""

from __future__ import annotations

import pytest

from millstream import DAG, TaskGroup, task, task_group
from millstream.exceptions import DagDefinitionError
from millstream.operators.bash import BashOperator


@task
def add_1(num):
    return num + 1


@task
def mul(num, factor=2):
    return num * factor


@task
def total(values):
    return sum(values)


def test_a_task_group_function_builds_its_tasks_in_a_group_and_ids_do_not_clash():
    @task_group
    def section():
        return add_1(1)

    with DAG("tg_plain") as the_dag:
        first = section()
        second = section()
    assert first.operator.task_id == "section.add_1"
    assert second.operator.task_id == "section__1.add_1"
    assert isinstance(the_dag.task_group_dict["section"], TaskGroup)


def test_a_mapped_group_maps_every_task_and_links_instances_of_the_same_index():
    @task_group
    def op(num):
        return mul(add_1(num))

    with DAG("tg_mapped") as the_dag:
        total(op.expand(num=[1, 2, 3]))
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert [result.xcom_pull("op.mul", map_index=i) for i in range(3)] == [4, 6, 8]
    assert result.xcom_pull("total") == 18


def test_a_mapped_group_over_an_upstream_output_with_fixed_arguments():
    @task
    def numbers():
        return [10, 20]

    @task_group
    def scaled(num, factor):
        return mul(num, factor)

    with DAG("tg_upstream") as the_dag:
        scaled.partial(factor=3).expand(num=numbers())
    result = the_dag.test(logical_date="2026-01-01")
    assert result.task_states == {"numbers": "success", "scaled.mul[0]": "success",
                                  "scaled.mul[1]": "success"}
    assert [result.xcom_pull("scaled.mul", map_index=i) for i in range(2)] == [30, 60]


def test_a_group_mapped_with_expand_kwargs():
    @task_group
    def scaled(num, factor):
        return mul(num, factor)

    with DAG("tg_kwargs") as the_dag:
        scaled.expand_kwargs([{"num": 1, "factor": 5}, {"num": 2, "factor": 7}])
    result = the_dag.test(logical_date="2026-01-01")
    assert [result.xcom_pull("scaled.mul", map_index=i) for i in range(2)] == [5, 14]


def test_a_classic_operator_inside_a_mapped_group_is_an_error_saying_what_to_do():
    @task_group
    def group(num):
        BashOperator(task_id="b", bash_command="echo")

    with DAG("tg_classic"), pytest.raises(DagDefinitionError, match="partial\\(\\)\\.expand"):
        group.expand(num=[1])


def test_expand_names_must_be_parameters_of_the_function():
    @task_group
    def group(num):
        return add_1(num)

    with DAG("tg_bad"), pytest.raises(DagDefinitionError, match="no argument 'nmu'"):
        group.expand(nmu=[1])
