"""Dependency wiring shared by tasks, task groups and XCom arguments: >>, <<, chain()."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from millstream.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator


class DependencyMixin:
    """Anything that can stand on either side of ``>>``: it has roots and leaves (tasks)."""

    @property
    def dependency_roots(self) -> list[BaseOperator]:
        raise NotImplementedError

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        raise NotImplementedError

    def set_downstream(self, other: Any) -> None:
        """Make every task of ``other`` run after this."""
        for node in _as_nodes(other):
            if isinstance(node, Label):
                node.add_upstream(self)
                continue
            for upstream in self.dependency_leaves:
                for downstream in node.dependency_roots:
                    link(upstream, downstream)

    def set_upstream(self, other: Any) -> None:
        """Make this run after every task of ``other``."""
        for node in _as_nodes(other):
            node.set_downstream(self)

    def __rshift__(self, other: Any) -> Any:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Any) -> Any:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Any) -> DependencyMixin:
        # [a, b] >> self
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Any) -> DependencyMixin:
        # [a, b] << self
        self.set_downstream(other)
        return self


def _as_nodes(other: Any) -> list[DependencyMixin]:
    if isinstance(other, DependencyMixin):
        return [other]
    if isinstance(other, Sequence | set | frozenset) and not isinstance(other, str):
        nodes: list[DependencyMixin] = []
        for item in other:
            nodes.extend(_as_nodes(item))
        return nodes
    raise DagDefinitionError(
        f"cannot set a dependency on {other!r}: expected a task, a task group, "
        "an XCom argument or a list of them"
    )


def link(upstream: BaseOperator, downstream: BaseOperator) -> None:
    """Record one edge, putting both tasks in the same DAG or raising if that is impossible."""
    if upstream is downstream:
        raise DagDefinitionError(f"task {upstream.task_id!r} cannot depend on itself")
    up_dag, down_dag = upstream.dag, downstream.dag
    if up_dag is None and down_dag is None:
        raise DagDefinitionError(
            f"tasks {upstream.task_id!r} and {downstream.task_id!r} are not in any DAG: "
            "create them inside 'with DAG(...)' or pass dag=..."
        )
    if up_dag is not None and down_dag is not None and up_dag is not down_dag:
        raise DagDefinitionError(
            f"task {upstream.task_id!r} of DAG {up_dag.dag_id!r} cannot be upstream of task "
            f"{downstream.task_id!r} of DAG {down_dag.dag_id!r}: dependencies stay inside one DAG"
        )
    if up_dag is None:
        upstream.attach_to_dag(down_dag)  # type: ignore[arg-type]
    elif down_dag is None:
        downstream.attach_to_dag(up_dag)
    upstream.downstream_task_ids.add(downstream.task_id)
    downstream.upstream_task_ids.add(upstream.task_id)


def chain(*elements: Any) -> None:
    """Wire each element downstream of the previous one.

    Elements may be tasks, groups, XCom arguments or lists; two adjacent lists of the same
    length are linked pairwise (``chain(a, [b, c], [d, e], f)`` gives b>>d and c>>e).
    """
    for left, right in itertools.pairwise(elements):
        left_is_list = isinstance(left, list | tuple)
        right_is_list = isinstance(right, list | tuple)
        if left_is_list and right_is_list:
            if len(left) != len(right):
                raise DagDefinitionError(
                    f"chain(): adjacent lists must have the same length, got {len(left)} "
                    f"and {len(right)}"
                )
            for up, down in zip(left, right, strict=True):
                _as_nodes(up)[0].set_downstream(down)
        elif left_is_list:
            for up in left:
                _as_nodes(up)[0].set_downstream(right)
        else:
            _as_nodes(left)[0].set_downstream(right)


def chain_linear(*elements: Any) -> None:
    """Wire every task of each element downstream of every task of the previous one.

    ``chain_linear(a, [b, c], [d, e], f)`` gives a>>b, a>>c, b>>d, b>>e, c>>d, c>>e, d>>f
    and e>>f (``chain`` would link the two lists pairwise instead).
    """
    if len(elements) < 2:
        raise DagDefinitionError("chain_linear() needs at least two elements")
    for left, right in itertools.pairwise(elements):
        for node in _as_nodes(left):
            node.set_downstream(right)


class Label(DependencyMixin):
    """A label on the edges it stands between: ``check >> Label("errors") >> report``.

    It adds no task: the edges are those between its neighbours, and the DAG keeps the
    text in ``edge_info[(upstream_id, downstream_id)]["label"]`` for the graph view.
    """

    def __init__(self, label: str) -> None:
        if not isinstance(label, str):
            raise DagDefinitionError(f"Label() takes a string, got {label!r}")
        self.label = label
        self._upstream: list[DependencyMixin] = []
        self._downstream: list[DependencyMixin] = []

    @property
    def dependency_roots(self) -> list[BaseOperator]:
        return [t for node in self._downstream for t in node.dependency_roots]

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        return [t for node in self._upstream for t in node.dependency_leaves]

    def add_upstream(self, node: DependencyMixin) -> None:
        self._upstream.append(node)
        for down in self._downstream:
            self._link(node, down)

    def set_downstream(self, other: Any) -> None:
        for node in _as_nodes(other):
            self._downstream.append(node)
            for up in self._upstream:
                self._link(up, node)

    def set_upstream(self, other: Any) -> None:
        for node in _as_nodes(other):
            self.add_upstream(node)

    def _link(self, upstream: DependencyMixin, downstream: DependencyMixin) -> None:
        upstream.set_downstream(downstream)
        for up in upstream.dependency_leaves:
            for down in downstream.dependency_roots:
                dag = up.dag or down.dag
                if dag is not None:
                    dag.edge_info.setdefault((up.task_id, down.task_id), {})["label"] = (
                        self.label
                    )

    def __repr__(self) -> str:
        return f"Label({self.label!r})"


def cross_downstream(from_tasks: Iterable[Any], to_tasks: Iterable[Any]) -> None:
    """Make every task of ``to_tasks`` run after every task of ``from_tasks``."""
    targets = list(to_tasks)
    for node in from_tasks:
        _as_nodes(node)[0].set_downstream(targets)
