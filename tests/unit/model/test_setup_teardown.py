"""The pure setup/teardown rules: scopes, indirect setups, run-state leaves and clears."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from millstream.model.setup_teardown import (
    SetupCounts,
    check_setup_teardown,
    effective_leaves,
    indirect_setups,
    relevant_setups,
    setup_constraint,
    with_setups_and_teardowns,
)
from millstream.model.trigger_rules import Decision


@dataclass
class Node:
    upstream_task_ids: set[str] = field(default_factory=set)
    downstream_task_ids: set[str] = field(default_factory=set)
    is_setup: bool = False
    is_teardown: bool = False
    on_failure_fail_dagrun: bool = False


def graph(edges: str, setups: str = "", teardowns: str = "",
          fail_dagrun: str = "") -> dict[str, Node]:
    """``"a>b b>c"`` edges; setups/teardowns/fail_dagrun are space-separated task ids."""
    nodes: dict[str, Node] = {}
    for edge in edges.split():
        up, down = edge.split(">")
        nodes.setdefault(up, Node()).downstream_task_ids.add(down)
        nodes.setdefault(down, Node()).upstream_task_ids.add(up)
    for name in setups.split():
        nodes.setdefault(name, Node()).is_setup = True
    for name in teardowns.split():
        nodes.setdefault(name, Node()).is_teardown = True
    for name in fail_dagrun.split():
        nodes[name].on_failure_fail_dagrun = True
    return nodes


# s >> w1 >> w2 >> t, s >> t (the teardown of s); x is outside the scope, after t
SCOPED = graph("s>w1 w1>w2 w2>t s>t t>x", setups="s", teardowns="t")


def test_relevant_setups_are_those_whose_teardown_is_downstream() -> None:
    assert relevant_setups(SCOPED, "w1") == ["s"]
    assert relevant_setups(SCOPED, "w2") == ["s"]
    assert relevant_setups(SCOPED, "x") == []  # its setup's teardown is upstream of it
    assert relevant_setups(SCOPED, "s") == []


def test_a_setup_without_teardown_scopes_everything_below_it() -> None:
    nodes = graph("s>a a>b", setups="s")
    assert relevant_setups(nodes, "b") == ["s"]


def test_indirect_setups_exclude_direct_upstream_and_teardowns() -> None:
    assert indirect_setups(SCOPED, "w1") == []  # s is a direct upstream
    assert indirect_setups(SCOPED, "w2") == ["s"]
    assert indirect_setups(SCOPED, "t") == []


@pytest.mark.parametrize(("counts", "expected"), [
    (SetupCounts(), None),
    (SetupCounts(total=1, success=1), None),
    (SetupCounts(total=2, success=1), Decision.WAIT),
    (SetupCounts(total=2, success=1, failed=1), Decision.UPSTREAM_FAILED),
    (SetupCounts(total=2, success=1, skipped=1), Decision.SKIP),
    (SetupCounts(total=2, skipped=1, failed=1), Decision.UPSTREAM_FAILED),
    (SetupCounts(total=3, skipped=1), Decision.SKIP),
])
def test_setup_constraint(counts: SetupCounts, expected: Decision | None) -> None:
    assert setup_constraint(counts) is expected


@pytest.mark.parametrize("bad", [
    {"total": -1}, {"total": 1, "success": 2}, {"total": 1, "failed": True},
])
def test_setup_counts_are_checked(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="setup count"):
        SetupCounts(**bad)


def test_effective_leaves_skip_teardowns() -> None:
    assert effective_leaves(graph("s>w w>t s>t", "s", "t")) == {"w"}


def test_effective_leaves_keep_a_teardown_that_fails_the_run() -> None:
    assert effective_leaves(graph("s>w w>t s>t", "s", "t", fail_dagrun="t")) == {"t"}


def test_effective_leaves_keep_tasks_after_a_teardown() -> None:
    # w2 leads only to the ignored teardown, so it counts as a leaf; so does x
    assert effective_leaves(SCOPED) == {"w2", "x"}


def test_effective_leaves_of_teardowns_only_are_the_plain_leaves() -> None:
    assert effective_leaves(graph("a>b", teardowns="a b")) == {"b"}


def test_clearing_work_brings_its_setup_and_teardown() -> None:
    assert with_setups_and_teardowns(SCOPED, ["w2"]) == {"w2", "s", "t"}


def test_clearing_outside_the_scope_brings_nothing() -> None:
    assert with_setups_and_teardowns(SCOPED, ["x"]) == {"x"}


def test_clearing_a_setup_brings_its_teardowns() -> None:
    assert with_setups_and_teardowns(SCOPED, ["s"]) == {"s", "t"}


def test_clearing_a_teardown_alone_does_not_clear_its_setup() -> None:
    assert with_setups_and_teardowns(SCOPED, ["t"]) == {"t"}


def test_clearing_with_upstream_adds_the_teardowns_of_setups_found_upstream() -> None:
    assert with_setups_and_teardowns(SCOPED, ["w1", "s"], upstream_included=True) == {
        "w1", "s", "t"}


def test_clearing_a_setup_with_its_downstream_adds_nothing_more() -> None:
    chosen = {"s", "w1", "w2", "t", "x"}
    assert with_setups_and_teardowns(SCOPED, chosen, downstream_included=True) == chosen


def test_a_task_cannot_be_setup_and_teardown() -> None:
    with pytest.raises(ValueError, match="'a' cannot be both"):
        check_setup_teardown(graph("a>b", setups="a", teardowns="a"))


# -- properties over random graphs -------------------------------------------------------------


@st.composite
def random_graphs(draw: st.DrawFn) -> dict[str, Node]:
    """A DAG of up to 8 tasks (edges only go from lower to higher numbers), some of them
    setups and some teardowns."""
    size = draw(st.integers(1, 8))
    names = [f"t{i}" for i in range(size)]
    nodes = {name: Node() for name in names}
    for i in range(size):
        for j in range(i + 1, size):
            if draw(st.booleans()):
                nodes[names[i]].downstream_task_ids.add(names[j])
                nodes[names[j]].upstream_task_ids.add(names[i])
    for name in names:
        role = draw(st.sampled_from(["work", "work", "setup", "teardown"]))
        nodes[name].is_setup = role == "setup"
        nodes[name].is_teardown = role == "teardown"
        nodes[name].on_failure_fail_dagrun = role == "teardown" and draw(st.booleans())
    return nodes


@settings(max_examples=300, deadline=None)
@given(random_graphs(), st.data())
def test_a_clear_only_adds_setups_and_teardowns_and_every_relevant_setup(
    nodes: dict[str, Node], data: st.DataObject,
) -> None:
    chosen = set(data.draw(st.lists(st.sampled_from(sorted(nodes)), min_size=1)))
    result = with_setups_and_teardowns(nodes, chosen)
    assert chosen <= result
    assert all(nodes[t].is_setup or nodes[t].is_teardown for t in result - chosen)
    for task_id in chosen:
        if not nodes[task_id].is_setup:
            assert set(relevant_setups(nodes, task_id)) <= result
        if nodes[task_id].is_setup:
            assert {t for t in nodes[task_id].downstream_task_ids
                    if nodes[t].is_teardown} <= result


@settings(max_examples=300, deadline=None)
@given(random_graphs())
def test_effective_leaves_are_never_ignored_teardowns_unless_nothing_else_is_left(
    nodes: dict[str, Node],
) -> None:
    leaves = effective_leaves(nodes)
    assert leaves
    ignored = {t for t, n in nodes.items() if n.is_teardown and not n.on_failure_fail_dagrun}
    if set(nodes) - ignored:
        assert not leaves & ignored
        for leaf in leaves:  # only ignored teardowns follow a leaf
            assert nodes[leaf].downstream_task_ids <= ignored
    else:
        assert leaves == {t for t, n in nodes.items() if not n.downstream_task_ids}


@settings(max_examples=300, deadline=None)
@given(random_graphs())
def test_indirect_setups_are_relevant_and_not_direct(nodes: dict[str, Node]) -> None:
    for task_id, node in nodes.items():
        indirect = indirect_setups(nodes, task_id)
        assert set(indirect) <= set(relevant_setups(nodes, task_id))
        assert not set(indirect) & node.upstream_task_ids
        assert not (node.is_teardown and indirect)
