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
