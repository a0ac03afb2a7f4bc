"""Reachability in a task graph, shared by DAGs and their serialized structures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol


class _Linked(Protocol):
    upstream_task_ids: set[str]
    downstream_task_ids: set[str]


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


def relatives(tasks: Mapping[str, _Linked], task_id: str, upstream: bool = False) -> set[str]:
    """Ids of every task downstream (or upstream) of ``task_id`` in ``tasks``."""

    def neighbours(node: str) -> set[str]:
        task = tasks[node]
        return task.upstream_task_ids if upstream else task.downstream_task_ids

    return reachable(neighbours(task_id), neighbours)
