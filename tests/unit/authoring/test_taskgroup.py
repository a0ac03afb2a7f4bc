"""TaskGroup: prefixed ids, nesting, wiring groups as one node, and running them."""

from __future__ import annotations

import pytest

from millstream import DAG, TaskGroup, task
from millstream.exceptions import DagDefinitionError
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator


def test_ids_are_prefixed_with_the_group_id():
    with DAG("grouped") as the_dag:
        with TaskGroup("extract", tooltip="pull the sources") as group:
            orders = EmptyOperator(task_id="orders")
            users = EmptyOperator(task_id="users")
        outside = EmptyOperator(task_id="orders")  # same local id, different full id
    assert orders.task_id == "extract.orders"
    assert users.task_id == "extract.users"
    assert outside.task_id == "orders"
    assert orders.task_group is group
    assert group.tooltip == "pull the sources"
    assert sorted(the_dag.task_ids) == ["extract.orders", "extract.users", "orders"]
    assert the_dag.task_group_dict["extract"] is group
    assert {t.task_id for t in group.all_tasks()} == {"extract.orders", "extract.users"}


def test_nested_groups_prefix_every_level():
    with DAG("nested") as the_dag, TaskGroup("outer") as outer:
        EmptyOperator(task_id="a")
        with TaskGroup("inner") as inner:
            deep = EmptyOperator(task_id="b")
    assert inner.group_id == "outer.inner"
    assert inner.parent_group is outer
    assert deep.task_id == "outer.inner.b"
    assert sorted(the_dag.task_group_dict) == ["outer", "outer.inner"]
    assert {t.task_id for t in outer.all_tasks()} == {"outer.a", "outer.inner.b"}


def test_prefix_group_id_false_keeps_local_ids():
    with DAG("flat") as the_dag, TaskGroup("section", prefix_group_id=False) as group:
        t = EmptyOperator(task_id="plain")
        with TaskGroup("sub") as sub:
            s = EmptyOperator(task_id="leaf")
    assert t.task_id == "plain"
    assert sub.group_id == "sub"
    assert s.task_id == "sub.leaf"
    assert sorted(the_dag.task_ids) == ["plain", "sub.leaf"]
    assert {x.task_id for x in group.all_tasks()} == {"plain", "sub.leaf"}


def test_same_task_id_in_two_groups_is_fine_but_twice_in_one_is_not():
    with DAG("twins") as the_dag:
        for name in ("left", "right"):
            with TaskGroup(name):
                EmptyOperator(task_id="step")
    assert sorted(the_dag.task_ids) == ["left.step", "right.step"]
    with pytest.raises(DagDefinitionError, match=r"DAG 'twins2'.*'g.step'"), DAG("twins2"), \
            TaskGroup("g"):
        EmptyOperator(task_id="step")
        EmptyOperator(task_id="step")


def test_group_shifts_link_roots_and_leaves():
    with DAG("shift_groups") as the_dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("work") as work:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
            d = EmptyOperator(task_id="d")
            a >> [b, c]  # roots: a, d; leaves: b, c, d
        end = EmptyOperator(task_id="end")
        start >> work >> end
    assert {t.task_id for t in work.dependency_roots} == {"work.a", "work.d"}
    assert {t.task_id for t in work.dependency_leaves} == {"work.b", "work.c", "work.d"}
    assert start.downstream_task_ids == {"work.a", "work.d"}
    assert end.upstream_task_ids == {"work.b", "work.c", "work.d"}
    assert the_dag.get_task("work.b").upstream_task_ids == {"work.a"}
    assert a.upstream_task_ids == {"start"} and d.upstream_task_ids == {"start"}


def test_group_to_group_and_lshift():
    with DAG("group_pairs") as the_dag:
        with TaskGroup("first") as first:
            EmptyOperator(task_id="x") >> EmptyOperator(task_id="y")
        with TaskGroup("second") as second:
            EmptyOperator(task_id="x")
            EmptyOperator(task_id="z")
        tail = EmptyOperator(task_id="tail")
        second << first
        [first, second] >> tail
    assert the_dag.get_task("second.x").upstream_task_ids == {"first.y"}
    assert the_dag.get_task("second.z").upstream_task_ids == {"first.y"}
    assert tail.upstream_task_ids == {"first.y", "second.x", "second.z"}


def test_nested_group_wiring_uses_the_inner_tasks():
    with DAG("nested_wiring") as the_dag:
        with TaskGroup("outer") as outer:
            with TaskGroup("inner") as inner:
                EmptyOperator(task_id="i1") >> EmptyOperator(task_id="i2")
            after = EmptyOperator(task_id="after")
            inner >> after
        final = EmptyOperator(task_id="final")
        outer >> final
    assert after.upstream_task_ids == {"outer.inner.i2"}
    assert [t.task_id for t in outer.dependency_roots] == ["outer.inner.i1"]
    assert final.upstream_task_ids == {"outer.after"}
    assert the_dag.get_task("outer.inner.i1").upstream_task_ids == set()


def test_taskflow_tasks_in_a_group_and_the_group_runs():
    with DAG("group_run") as the_dag:
        @task
        def numbers():
            return [1, 2, 3]

        values = numbers()
        with TaskGroup("stats"):
            @task
            def total(values):
                return sum(values)

            @task
            def biggest(values):
                return max(values)

            summed = total(values)
            top = biggest(values)

        @task
        def report(summed, top):
            return f"{summed}/{top}"

        report(summed, top)
    assert sorted(the_dag.task_ids) == ["numbers", "report", "stats.biggest", "stats.total"]
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.xcom_pull("stats.total") == 6
    assert result.xcom_pull("stats.biggest") == 3
    assert result.xcom_pull("report") == "6/3"


def test_a_failure_inside_a_group_fails_what_follows_the_group():
    def boom():
        raise RuntimeError("inside the group")

    with DAG("group_failure") as the_dag:
        with TaskGroup("g") as group:
            PythonOperator(task_id="bad", python_callable=boom)
            EmptyOperator(task_id="good")
        after = EmptyOperator(task_id="after")
        group >> after
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "failed"
    assert result.task_states == {"g.bad": "failed", "g.good": "success",
                                  "after": "upstream_failed"}


def test_group_outside_a_dag_and_bad_group_ids_are_errors():
    with pytest.raises(DagDefinitionError, match=r"task group 'lost' is not in any DAG"):
        TaskGroup("lost")
    with pytest.raises(DagDefinitionError,
                       match=r"DAG 'ids': invalid group_id: task id 'has space' holds ' '"), \
            DAG("ids"):
        TaskGroup("has space")


def test_group_stack_is_clean_after_the_block():
    from millstream.authoring.taskgroup import current_task_group

    with DAG("stack"):
        with TaskGroup("g") as g:
            assert current_task_group() is g
        assert current_task_group() is None
        after = EmptyOperator(task_id="after")
    assert after.task_group is None
    assert after.task_id == "after"
