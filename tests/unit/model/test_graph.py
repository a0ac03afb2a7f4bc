"""Reachability over a task graph."""

from __future__ import annotations

from millstream.model.graph import reachable

EDGES = {"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set(), "e": {"a"}}


def test_everything_downstream_is_found_once() -> None:
    assert reachable(EDGES["a"], EDGES.__getitem__) == {"b", "c", "d"}


def test_a_leaf_reaches_nothing_and_the_start_is_not_included() -> None:
    assert reachable(EDGES["d"], EDGES.__getitem__) == set()
    assert "e" not in reachable(EDGES["e"], EDGES.__getitem__)


def test_a_cycle_terminates_and_leads_back_to_the_start() -> None:
    cyclic = {"x": {"y"}, "y": {"x"}}
    assert reachable(cyclic["x"], cyclic.__getitem__) == {"x", "y"}


class _Node:
    def __init__(self, up: set[str], down: set[str]) -> None:
        self.upstream_task_ids = up
        self.downstream_task_ids = down


def test_relatives_follow_either_direction() -> None:
    from millstream.model.graph import relatives

    tasks = {"a": _Node(set(), {"b"}), "b": _Node({"a"}, {"c"}), "c": _Node({"b"}, set())}
    assert relatives(tasks, "a") == {"b", "c"}
    assert relatives(tasks, "c", upstream=True) == {"a", "b"}
    assert relatives(tasks, "b", upstream=True) == {"a"}
