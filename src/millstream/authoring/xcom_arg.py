"""XComArg and DagParam: placeholders in task arguments that are resolved at run time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from millstream.authoring.dependencies import DependencyMixin

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.authoring.task import BaseOperator

RETURN_VALUE = "return_value"
_NOTSET: Any = object()


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

    # -- setup and teardown, on the task behind the value ---------------------------------
    def as_setup(self) -> XComArg:
        """Mark the task behind this value as a setup task."""
        self.operator.as_setup()
        return self

    def as_teardown(self, setups: Any = None,
                    on_failure_fail_dagrun: bool | None = None) -> XComArg:
        """Mark the task behind this value as the teardown of ``setups``."""
        self.operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    def __enter__(self) -> XComArg:
        self.operator.__enter__()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.operator.__exit__(exc_type, exc, tb)

    # -- transforming the value ----------------------------------------------------------
    def map(self, function: Callable[[Any], Any]) -> MapXComArg:
        """This (list or dict) value with ``function`` applied to each item when used.

        Usable wherever the value is, and by ``expand()``: the number of mapped instances
        stays that of this value.
        """
        return MapXComArg(self, function)

    def zip(self, *others: ResolvableArg | Sequence[Any], fillvalue: Any = _NOTSET) -> ZipXComArg:
        """Tuples of this value's items with the items of ``others``, as Python's ``zip``.

        With ``fillvalue`` the result is as long as the longest input, shorter ones padded.
        """
        return ZipXComArg([self, *others], fillvalue)

    def concat(self, *others: ResolvableArg | Sequence[Any]) -> ConcatXComArg:
        """This value's items followed by those of ``others``."""
        return ConcatXComArg([self, *others])

    def __repr__(self) -> str:
        return f"XComArg({self.operator.task_id!r}, key={self.key!r})"


def _items(value: Any, where: str) -> list[Any]:
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, Sequence | set | frozenset) and not isinstance(value, str | bytes):
        return list(value)
    raise TypeError(f"{where} needs a list or a dict, got {type(value).__name__}")


def _resolve_any(value: Any, context: dict[str, Any]) -> Any:
    return value.resolve(context) if isinstance(value, ResolvableArg) else value


class _DerivedXComArg(XComArg):
    """A value computed from other XCom values when it is used."""

    def __init__(self, sources: Sequence[Any]) -> None:
        first = next((s for s in sources if isinstance(s, XComArg)), None)
        if first is None:
            raise TypeError("needs at least one task output")
        super().__init__(first.operator, first.key)
        self.sources = list(sources)

    def __getitem__(self, key: str) -> XComArg:
        raise TypeError(f"{type(self).__name__} has no keys to select")

    def upstream_tasks(self) -> list[BaseOperator]:
        tasks: list[BaseOperator] = []
        for source in self.sources:
            if isinstance(source, ResolvableArg):
                tasks.extend(t for t in source.upstream_tasks() if t not in tasks)
        return tasks

    @property
    def dependency_roots(self) -> list[BaseOperator]:
        return self.upstream_tasks()

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        return self.upstream_tasks()


class MapXComArg(_DerivedXComArg):
    """``arg.map(function)``: each item of a list (or (key, value) of a dict) transformed."""

    def __init__(self, source: XComArg, function: Callable[[Any], Any]) -> None:
        if not callable(function):
            raise TypeError(f"map() needs a callable, got {function!r}")
        super().__init__([source])
        self.function = function

    def map(self, function: Callable[[Any], Any]) -> MapXComArg:
        previous = self.function
        return MapXComArg(self.sources[0], lambda item: function(previous(item)))

    def resolve(self, context: dict[str, Any]) -> Any:
        value = self.sources[0].resolve(context)
        items = _items(value, f"map() of task {self.operator.task_id!r}")
        return [self.function(item) for item in items]

    def __repr__(self) -> str:
        return f"{self.sources[0]!r}.map({getattr(self.function, '__name__', 'function')})"


class ZipXComArg(_DerivedXComArg):
    """``arg.zip(other, ...)``: tuples of corresponding items."""

    def __init__(self, sources: Sequence[Any], fillvalue: Any = _NOTSET) -> None:
        super().__init__(sources)
        self.fillvalue = fillvalue

    def resolve(self, context: dict[str, Any]) -> Any:
        lists = [_items(_resolve_any(s, context), "zip()") for s in self.sources]
        if self.fillvalue is _NOTSET:
            return [tuple(row) for row in zip(*lists, strict=False)]
        longest = max((len(v) for v in lists), default=0)
        return [tuple(v[i] if i < len(v) else self.fillvalue for v in lists)
                for i in range(longest)]

    def __repr__(self) -> str:
        return f"zip({', '.join(map(repr, self.sources))})"


class ConcatXComArg(_DerivedXComArg):
    """``arg.concat(other, ...)``: the items of each value, one after the other."""

    def resolve(self, context: dict[str, Any]) -> Any:
        result: list[Any] = []
        for source in self.sources:
            result.extend(_items(_resolve_any(source, context), "concat()"))
        return result

    def __repr__(self) -> str:
        return f"concat({', '.join(map(repr, self.sources))})"


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
