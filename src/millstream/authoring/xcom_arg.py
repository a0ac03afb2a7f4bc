"""XComArg and DagParam: placeholders in task arguments that are resolved at run time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from millstream.authoring.dependencies import DependencyMixin

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.authoring.task import BaseOperator

RETURN_VALUE = "return_value"


class ResolvableArg:
    """Something inside a task's arguments whose value is known only when the task runs."""

    def resolve(self, context: dict[str, Any]) -> Any:
        raise NotImplementedError

    def upstream_tasks(self) -> list[BaseOperator]:
        """Tasks that must finish before this can be resolved."""
        return []


class XComArg(ResolvableArg, DependencyMixin):
    """The XCom value (``return_value`` unless ``key`` is given) of a task.

    Passing it into another task makes that task downstream of this one; ``arg["k"]``
    selects one key of a task with ``multiple_outputs=True``.
    """

    def __init__(self, operator: BaseOperator, key: str = RETURN_VALUE) -> None:
        self.operator = operator
        self.key = key

    def __getitem__(self, key: str) -> XComArg:
        return XComArg(self.operator, key=key)

    def resolve(self, context: dict[str, Any]) -> Any:
        return context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key)

    def upstream_tasks(self) -> list[BaseOperator]:
        return [self.operator]

    @property
    def dependency_roots(self) -> list[BaseOperator]:
        return [self.operator]

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        return [self.operator]

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, key={self.key!r})"


class DagParam(ResolvableArg):
    """A ``@dag`` function parameter: resolves to the run's value of that param."""

    def __init__(self, dag: DAG, name: str) -> None:
        self.dag = dag
        self.name = name

    def resolve(self, context: dict[str, Any]) -> Any:
        return context["params"][self.name]

    def __repr__(self) -> str:
        return f"DagParam({self.name!r})"


def walk_resolvables(value: Any, visit: Callable[[ResolvableArg], None]) -> None:
    """Call ``visit`` on every ResolvableArg nested in lists, tuples, sets and dicts."""
    if isinstance(value, ResolvableArg):
        visit(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            walk_resolvables(item, visit)
    elif isinstance(value, dict):
        for item in value.values():
            walk_resolvables(item, visit)


def resolve_nested(value: Any, context: dict[str, Any]) -> Any:
    """``value`` with every nested ResolvableArg replaced by its run-time value."""
    if isinstance(value, ResolvableArg):
        return value.resolve(context)
    if isinstance(value, list):
        return [resolve_nested(v, context) for v in value]
    if isinstance(value, tuple):
        return tuple(resolve_nested(v, context) for v in value)
    if isinstance(value, set | frozenset):
        return type(value)(resolve_nested(v, context) for v in value)
    if isinstance(value, dict):
        return {k: resolve_nested(v, context) for k, v in value.items()}
    return value


def wire_upstream(task: BaseOperator, *values: Any) -> None:
    """Make ``task`` downstream of every task whose XCom appears in ``values``."""

    def visit(arg: ResolvableArg) -> None:
        for upstream in arg.upstream_tasks():
            upstream.set_downstream(task)

    for value in values:
        walk_resolvables(value, visit)
