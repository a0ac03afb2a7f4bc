"""Asking the runtime to skip downstream tasks, as branching and short-circuit tasks do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from millstream.exceptions import MillstreamError


def skip_tasks(context: dict[str, Any], task_ids: Iterable[str]) -> None:
    """Mark ``task_ids`` of the current run to be skipped when this task succeeds."""
    context["ti"].request_skip(task_ids)


def branch_targets(context: dict[str, Any], chosen: Any) -> set[str]:
    """Task ids to follow for a branch result: a task id, a group id, a list of them, or None.

    A task group id stands for the group's root tasks. Anything that is not a direct
    downstream task of the branching task is an error naming the bad ids.
    """
    task = context["task"]
    dag = task.dag
    if chosen is None:
        wanted: list[str] = []
    elif isinstance(chosen, str):
        wanted = [chosen]
    elif isinstance(chosen, Iterable):
        wanted = list(chosen)
    else:
        raise MillstreamError(
            f"task {task.task_id!r}: a branch must return a task id, a list of task ids or None, "
            f"got {chosen!r}"
        )
    follow: set[str] = set()
    invalid: list[str] = []
    for item in wanted:
        if not isinstance(item, str):
            invalid.append(repr(item))
        elif item in task.downstream_task_ids:
            follow.add(item)
        elif item in dag.task_group_dict:
            roots = {t.task_id for t in dag.task_group_dict[item].dependency_roots}
            follow |= roots & task.downstream_task_ids
        else:
            invalid.append(item)
    if invalid:
        raise MillstreamError(
            f"task {task.task_id!r}: branch returned {', '.join(invalid)}, which is not a direct "
            f"downstream task; expected one of {sorted(task.downstream_task_ids)}"
        )
    return follow
