"""Reachability in a task graph, shared by DAGs and their serialized structures."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def reachable(start: Iterable[str], neighbours: Callable[[str], Iterable[str]]) -> set[str]:
    """Every node reachable from ``start`` by following ``neighbours`` (``start`` excluded
    unless a path leads back to it)."""
    found: set[str] = set()
    frontier = list(start)
    while frontier:
        node = frontier.pop()
        if node not in found:
            found.add(node)
            frontier.extend(neighbours(node))
    return found
