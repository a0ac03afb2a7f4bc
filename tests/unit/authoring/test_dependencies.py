"""Wiring tasks: >>, <<, lists, chain(), cross_downstream(), and the errors of bad graphs."""

from __future__ import annotations

import pytest

from millstream import DAG, TaskGroup, chain, cross_downstream, task
from millstream.exceptions import DagCycleError, DagDefinitionError, DuplicateTaskIdError
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator


def _edges(dag: DAG) -> set[tuple[str, str]]:
    found = set()
    for t in dag.tasks:
        for down in t.downstream_task_ids:
            assert t.task_id in dag.get_task(down).upstream_task_ids  # both sides recorded
            found.add((t.task_id, down))
    return found


def _tasks(dag_id: str, names: str) -> tuple[DAG, list[EmptyOperator]]:
    the_dag = DAG(dag_id)
    return the_dag, [EmptyOperator(task_id=n, dag=the_dag) for n in names]


def test_rshift_and_lshift_chain_left_to_right():
    the_dag, (a, b, c, d) = _tasks("shifts", "abcd")
    assert (a >> b) is b
    assert (d << c) is c
    b >> c
    assert _edges(the_dag) == {("a", "b"), ("b", "c"), ("c", "d")}


def test_lists_on_either_side():
    the_dag, (a, b, c, d, e) = _tasks("lists", "abcde")
    a >> [b, c] >> d
    [d] << e
    assert _edges(the_dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("e", "d")}


def test_list_on_the_left_of_lshift():
    the_dag, (a, b, c) = _tasks("lshift_list", "abc")
    [a, b] << c
    assert _edges(the_dag) == {("c", "a"), ("c", "b")}


def test_set_upstream_and_set_downstream():
    the_dag, (a, b, c, d) = _tasks("setters", "abcd")
    a.set_downstream(b)
    c.set_upstream([a, b])
    d.set_upstream(c)
    assert _edges(the_dag) == {("a", "b"), ("a", "c"), ("b", "c"), ("c", "d")}
    assert [t.task_id for t in c.upstream_list] == ["a", "b"]
    assert [t.task_id for t in a.downstream_list] == ["b", "c"]
    assert a.get_flat_relative_ids() == {"b", "c", "d"}
    assert d.get_flat_relative_ids(upstream=True) == {"a", "b", "c"}


def test_repeating_an_edge_is_harmless():
    the_dag, (a, b) = _tasks("twice", "ab")
    a >> b
    a >> b
    b << a
    assert _edges(the_dag) == {("a", "b")}


def test_chain_of_single_tasks_and_lists():
    the_dag, (a, b, c, d) = _tasks("chain", "abcd")
    chain(a, [b, c], d)
    assert _edges(the_dag) == {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")}


def test_chain_links_adjacent_lists_pairwise():
    the_dag, (a, b, c, d, e, f) = _tasks("pairwise", "abcdef")
    chain(a, [b, c], [d, e], f)
    assert _edges(the_dag) == {
        ("a", "b"), ("a", "c"), ("b", "d"), ("c", "e"), ("d", "f"), ("e", "f"),
    }


def test_chain_with_lists_of_different_lengths_is_an_error():
    _, (a, b, c) = _tasks("uneven", "abc")
    with pytest.raises(DagDefinitionError, match=r"same length, got 2 and 1"):
        chain([a, b], [c])


def test_chain_of_nothing_or_one_element_does_nothing():
    the_dag, (a,) = _tasks("lonely", "a")
    chain()
    chain(a)
    assert _edges(the_dag) == set()


def test_cross_downstream_links_every_pair():
    the_dag, (a, b, c, d) = _tasks("cross", "abcd")
    cross_downstream([a, b], [c, d])
    assert _edges(the_dag) == {("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")}


def test_chain_and_shift_with_task_groups_and_xcom_args():
    with DAG("mixed") as the_dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("g") as group:
            EmptyOperator(task_id="one") >> EmptyOperator(task_id="two")

        @task
        def produce():
            return 1

        produced = produce()
        end = EmptyOperator(task_id="end")
        chain(start, group, produced, end)
    assert _edges(the_dag) == {
        ("start", "g.one"), ("g.one", "g.two"), ("g.two", "produce"), ("produce", "end"),
    }


def test_dependencies_order_the_run():
    order = []
    with DAG("ordering") as the_dag:
        tasks = {n: PythonOperator(task_id=n, python_callable=lambda n=n: order.append(n))
                 for n in "zyxw"}
        tasks["z"] << tasks["y"] << tasks["x"] << tasks["w"]
    assert the_dag.test(logical_date="2026-01-01").state == "success"
    assert order == ["w", "x", "y", "z"]


# -- definition errors ------------------------------------------------------------------------

def test_a_cycle_is_reported_with_its_path_when_the_dag_block_ends():
    with pytest.raises(DagCycleError) as info, DAG("loop"):
        a = EmptyOperator(task_id="extract")
        b = EmptyOperator(task_id="transform")
        c = EmptyOperator(task_id="load")
        EmptyOperator(task_id="unrelated")
        a >> b >> c >> a
    message = str(info.value)
    assert "DAG 'loop'" in message
    assert "extract -> transform -> load -> extract" in message


def test_a_cycle_through_a_longer_graph_shows_only_the_cycle():
    with pytest.raises(DagCycleError) as info, DAG("inner_loop"):
        start = EmptyOperator(task_id="start")
        b = EmptyOperator(task_id="b")
        c = EmptyOperator(task_id="c")
        end = EmptyOperator(task_id="end")
        start >> b >> c >> end
        c >> b
    assert "b -> c -> b" in str(info.value)
    assert "start" not in str(info.value).split(":", 1)[1]


def test_a_two_task_cycle_and_self_dependency():
    with pytest.raises(DagCycleError, match=r"a -> b -> a"), DAG("pair"):
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        a >> b
        b >> a
    with pytest.raises(DagDefinitionError, match=r"'self_ref' cannot depend on itself"), \
            DAG("self"):
        t = EmptyOperator(task_id="self_ref")
        t >> t


def test_a_cycle_in_a_dag_built_without_with_is_caught_by_validate_and_test():
    the_dag, (a, b) = _tasks("no_with", "ab")
    a >> b >> a
    with pytest.raises(DagCycleError, match=r"DAG 'no_with' has a cycle: a -> b -> a"):
        the_dag.validate()
    with pytest.raises(DagCycleError):
        the_dag.test(logical_date="2026-01-01")


def test_duplicate_task_ids_name_dag_and_task():
    with pytest.raises(DuplicateTaskIdError) as info, DAG("dupes"):
        EmptyOperator(task_id="load")
        EmptyOperator(task_id="load")
    assert str(info.value) == "DAG 'dupes': task id 'load' is used by more than one task"


def test_duplicate_ids_across_a_group_and_a_task():
    with pytest.raises(DagDefinitionError, match=r"DAG 'clash'.*'g' is already used"), \
            DAG("clash"):
        EmptyOperator(task_id="g")
        TaskGroup("g")


def test_linking_two_tasks_without_a_dag_is_an_error():
    a = EmptyOperator(task_id="orphan_a")
    b = EmptyOperator(task_id="orphan_b")
    with pytest.raises(DagDefinitionError) as info:
        a >> b
    message = str(info.value)
    assert "'orphan_a'" in message and "'orphan_b'" in message
    assert "not in any DAG" in message
    assert a.downstream_task_ids == set() and b.upstream_task_ids == set()


def test_a_dagless_task_linked_to_a_dag_task_joins_that_dag():
    with DAG("adopter") as the_dag:
        inside = EmptyOperator(task_id="inside")
    outside = EmptyOperator(task_id="outside")
    inside >> outside
    assert outside.dag is the_dag
    assert the_dag.task_ids == ["inside", "outside"]


def test_dependencies_across_dags_are_errors_naming_both():
    with DAG("first") as first:
        a = EmptyOperator(task_id="a")
    with DAG("second"):
        b = EmptyOperator(task_id="b")
    for attempt in (lambda: a >> b, lambda: a << b, lambda: chain(a, b)):
        with pytest.raises(DagDefinitionError) as info:
            attempt()
        message = str(info.value)
        assert "'first'" in message and "'second'" in message
        assert "'a'" in message and "'b'" in message
    assert first.task_ids == ["a"]


def test_an_edge_to_a_task_of_another_dag_fails_validation():
    with DAG("one") as one:
        a = EmptyOperator(task_id="a")
    a.downstream_task_ids.add("ghost")  # as a broken graph would look
    with pytest.raises(DagDefinitionError, match=r"DAG 'one': task 'a' depends on 'ghost'"):
        one.validate()


def test_shifting_a_non_task_is_an_error():
    with DAG("junk"):
        a = EmptyOperator(task_id="a")
        with pytest.raises(DagDefinitionError, match=r"cannot set a dependency on 'b'"):
            a >> "b"
        with pytest.raises(DagDefinitionError, match=r"cannot set a dependency on 3"):
            a >> [3]


# -- chain_linear, Label, and groups with teardowns ------------------------------------------


def test_chain_linear_links_every_task_of_adjacent_elements():
    from millstream.authoring.dependencies import chain_linear

    with DAG("linear") as the_dag:
        a, b, c, d, e, f = (EmptyOperator(task_id=x) for x in "abcdef")
        chain_linear(a, [b, c], [d, e], f)
    down = {t.task_id: t.downstream_task_ids for t in the_dag.tasks}
    assert down == {"a": {"b", "c"}, "b": {"d", "e"}, "c": {"d", "e"}, "d": {"f"},
                    "e": {"f"}, "f": set()}


def test_chain_linear_needs_two_elements():
    from millstream.authoring.dependencies import chain_linear

    with DAG("linear_short"), pytest.raises(DagDefinitionError, match="at least two"):
        chain_linear(EmptyOperator(task_id="a"))


def test_label_links_its_neighbours_and_names_the_edge():
    from millstream.authoring.dependencies import Label

    with DAG("labels") as the_dag:
        check, ok, bad, report = (EmptyOperator(task_id=x) for x in
                                  ("check", "ok", "bad", "report"))
        check >> Label("no errors") >> ok >> report
        check >> Label("errors") >> [bad] >> report
        Label("late") >> report  # downstream side first, upstream given after
        ok << Label("unused")
    assert check.downstream_task_ids == {"ok", "bad"}
    assert the_dag.edge_info[("check", "ok")] == {"label": "no errors"}
    assert the_dag.edge_info[("check", "bad")] == {"label": "errors"}
    assert ("ok", "report") not in the_dag.edge_info


def test_label_takes_a_string():
    from millstream.authoring.dependencies import Label

    with pytest.raises(DagDefinitionError, match="Label\\(\\) takes a string"):
        Label(3)  # type: ignore[arg-type]


def test_a_group_ending_in_a_teardown_links_on_from_its_work():
    with DAG("group_teardown") as the_dag:
        with TaskGroup("section") as section:
            create = EmptyOperator(task_id="create").as_setup()
            work = EmptyOperator(task_id="work")
            delete = EmptyOperator(task_id="delete").as_teardown(setups=create)
            create >> work >> delete
        section >> EmptyOperator(task_id="after")
    assert the_dag.task_dict["after"].upstream_task_ids == {"section.work"}
    assert work.downstream_task_ids == {"section.delete", "after"}
    assert delete.downstream_task_ids == set()


def test_edge_labels_are_stored_with_the_dag_structure():
    from millstream.authoring.dependencies import Label
    from millstream.parsing.serialize import DagStructure

    with DAG("labels_stored") as the_dag:
        EmptyOperator(task_id="a") >> Label("then") >> EmptyOperator(task_id="b")
    structure = DagStructure.from_json_text(DagStructure.from_dag(the_dag).to_json())
    assert structure.edge_info == {("a", "b"): {"label": "then"}}
    with DAG("no_labels") as plain:
        EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
    assert "edge_info" not in DagStructure.from_dag(plain).data


def test_with_setup_and_teardown_wired_by_shift():
    from millstream.operators.decorators import setup, teardown

    @setup
    def create():
        return 1

    @teardown
    def delete():
        return 2

    @task
    def work():
        return 3

    with DAG("shift_scope") as the_dag, create() >> delete():
        work()
    assert the_dag.task_dict["work"].upstream_task_ids == {"create"}
    assert the_dag.task_dict["work"].downstream_task_ids == {"delete"}
    assert the_dag.test(logical_date="2026-01-01").state == "success"
