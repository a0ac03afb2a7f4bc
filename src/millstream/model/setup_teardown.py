"""Setup and teardown tasks: which tasks they scope, how they decide a run's state and clears.

A *setup* task prepares a resource (a cluster, a temporary table); a *teardown* task
releases it. A teardown is wired downstream of its setups, and the work tasks between
them are *in the setup's scope*. The rules below follow Apache Airflow 3's documentation:

* a teardown runs once every upstream task is done, whether the work failed or not,
  provided at least one of its direct setups succeeded (the ``all_done_setup_success``
  trigger rule, see :mod:`millstream.model.trigger_rules`); when all its setups were
  skipped it is skipped, when none succeeded it is upstream_failed;
* a work task whose *indirect* setup (one that is not a direct upstream) failed is
  upstream_failed, and one whose indirect setup was skipped is skipped, whatever its
  own trigger rule (:func:`setup_constraint`);
* a teardown does not decide the run's state unless ``on_failure_fail_dagrun`` is set:
  the run's state comes from the "effective leaves" (:func:`effective_leaves`);
* clearing a task also clears the setups whose scope it is in and their teardowns, and
  clearing a setup also clears its teardowns (:func:`with_setups_and_teardowns`).

Everything here is a pure function of a task graph given as a mapping of task ids to
nodes that have ``upstream_task_ids``, ``downstream_task_ids``, ``is_setup``,
``is_teardown`` and ``on_failure_fail_dagrun``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol

from millstream.model.graph import reachable
from millstream.model.trigger_rules import Decision


class SetupTeardownNode(Protocol):
    """What the rules need of one task."""

    @property
    def upstream_task_ids(self) -> AbstractSet[str]: ...
    @property
    def downstream_task_ids(self) -> AbstractSet[str]: ...
    @property
    def is_setup(self) -> bool: ...
    @property
    def is_teardown(self) -> bool: ...
    @property
    def on_failure_fail_dagrun(self) -> bool: ...


Graph = Mapping[str, SetupTeardownNode]


def _ancestors(graph: Graph, task_id: str) -> set[str]:
    return reachable(graph[task_id].upstream_task_ids, lambda t: graph[t].upstream_task_ids)


def _descendants(graph: Graph, task_id: str) -> set[str]:
    return reachable(graph[task_id].downstream_task_ids, lambda t: graph[t].downstream_task_ids)


def check_setup_teardown(graph: Graph) -> None:
    """Raise ValueError naming the task if a task is both a setup and a teardown."""
    for task_id, node in graph.items():
        if node.is_setup and node.is_teardown:
            raise ValueError(f"task {task_id!r} cannot be both a setup and a teardown")


def relevant_setups(graph: Graph, task_id: str) -> list[str]:
    """The setups whose scope ``task_id`` is in, sorted.

    A setup upstream of the task (at any depth) counts when one of its teardowns is
    downstream of the task, or when it has no teardown at all.
    """
    downstream_teardowns = {t for t in _descendants(graph, task_id) if graph[t].is_teardown}
    found: list[str] = []
    for upstream in _ancestors(graph, task_id):
        setup = graph[upstream]
        if not setup.is_setup:
            continue
        teardowns = {t for t in setup.downstream_task_ids if graph[t].is_teardown}
        if not teardowns or teardowns & downstream_teardowns:
            found.append(upstream)
    return sorted(found)


def indirect_setups(graph: Graph, task_id: str) -> list[str]:
    """The relevant setups of a work task that are not among its direct upstream tasks.

    A teardown has none: its setups are its direct upstream tasks by construction.
    """
    node = graph[task_id]
    if node.is_teardown:
        return []
    return [s for s in relevant_setups(graph, task_id) if s not in node.upstream_task_ids]


@dataclass(frozen=True, slots=True)
class SetupCounts:
    """How the instances of a task's indirect setups ended (unfinished ones only in total)."""

    total: int = 0
    success: int = 0
    skipped: int = 0
    failed: int = 0  # failed or upstream_failed

    def __post_init__(self) -> None:
        for name in ("total", "success", "skipped", "failed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"setup count {name} must be a non-negative int, got {value!r}")
        if self.success + self.skipped + self.failed > self.total:
            raise ValueError("setup counts are inconsistent: more finished than total")


def setup_constraint(counts: SetupCounts) -> Decision | None:
    """What a work task's indirect setups impose before its own trigger rule is looked at.

    A failed setup makes it upstream_failed and a skipped one skips it, whatever its
    trigger rule; while a setup is unfinished it waits; None lets its trigger rule decide.
    """
    if counts.failed:
        return Decision.UPSTREAM_FAILED
    if counts.skipped:
        return Decision.SKIP
    if counts.success < counts.total:
        return Decision.WAIT
    return None


def effective_leaves(graph: Graph) -> set[str]:
    """The tasks whose states decide a finished run's state.

    A teardown is ignored unless ``on_failure_fail_dagrun`` is set, and a task whose only
    downstream tasks are ignored teardowns counts as a leaf. When every task would be
    ignored (a DAG of teardowns only), the plain leaves are used.
    """

    def ignored(task_id: str) -> bool:
        node = graph[task_id]
        return node.is_teardown and not node.on_failure_fail_dagrun

    leaves = {
        task_id for task_id, node in graph.items()
        if not ignored(task_id) and all(ignored(d) for d in node.downstream_task_ids)
    }
    if not leaves:
        leaves = {task_id for task_id, node in graph.items() if not node.downstream_task_ids}
    return leaves


def with_setups_and_teardowns(graph: Graph, task_ids: Iterable[str],
                              upstream_included: bool = False,
                              downstream_included: bool = False) -> set[str]:
    """``task_ids`` plus the setups and teardowns a clear of them must also reset.

    For each work task (not a setup), its relevant setups and their teardowns are added,
    unless its upstream tasks are cleared anyway (``upstream_included``, which then adds the
    teardowns of the setups found upstream). A setup cleared without its downstream brings
    its teardowns, so the resource it re-creates is released again.
    """
    chosen = set(task_ids)
    extra: set[str] = set()
    for task_id in chosen:
        node = graph[task_id]
        if upstream_included:
            for up in _ancestors(graph, task_id):
                if graph[up].is_setup:
                    extra |= {t for t in graph[up].downstream_task_ids if graph[t].is_teardown}
        elif not node.is_setup:
            for setup in relevant_setups(graph, task_id):
                extra.add(setup)
                extra |= {t for t in graph[setup].downstream_task_ids
                          if graph[t].is_teardown and t != task_id}
        if node.is_setup and not downstream_included:
            extra |= {t for t in node.downstream_task_ids if graph[t].is_teardown}
    return chosen | extra


__all__ = [
    "SetupCounts",
    "SetupTeardownNode",
    "check_setup_teardown",
    "effective_leaves",
    "indirect_setups",
    "relevant_setups",
    "setup_constraint",
    "with_setups_and_teardowns",
]
