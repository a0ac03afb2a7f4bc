"""``@task_group``: a function whose call builds its tasks inside a TaskGroup, and mapped groups.

``my_group.expand(x=[1, 2, 3])`` (or ``.partial(...).expand(...)``, ``.expand_kwargs(...)``)
builds the group once, mapped: every ``@task`` inside becomes a mapped task with one
instance per element (a cross product for several arguments), the function's mapped
parameters resolve to that element, and a task inside that takes the output of another
task inside gets the value of the instance with the same map index.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from millstream.authoring.dag import current_dag
from millstream.authoring.taskgroup import TaskGroup, current_task_group
from millstream.authoring.xcom_arg import ResolvableArg, XComArg, resolve_nested
from millstream.exceptions import DagDefinitionError


class MappedGroupInput:
    """The expanded arguments of a mapped task group, as the group's tasks see them."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def element(self, map_index: int, context: dict[str, Any]) -> dict[str, Any]:
        """The group's arguments for the instance at ``map_index``."""
        lists = {name: _sequence(resolve_nested(value, context), name)
                 for name, value in self.values.items()}
        total = math.prod(len(v) for v in lists.values())
        if not 0 <= map_index < total:
            raise IndexError(f"the mapped task group has no map index {map_index}")
        combination = next(itertools.islice(itertools.product(*lists.values()), map_index, None))
        chosen = dict(zip(lists, combination, strict=True))
        if _KWARGS in chosen:
            element = chosen.pop(_KWARGS)
            if not isinstance(element, Mapping):
                raise TypeError(f"expand_kwargs() element {map_index} is not a dict")
            chosen.update(element)
        return chosen


_KWARGS = "__expand_kwargs__"


def _sequence(value: Any, name: str) -> Sequence[Any]:
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value
    raise TypeError(f"the task group's expanded argument {name!r} must be a list or dict, "
                    f"got {type(value).__name__}")


class MappedArgument(ResolvableArg):
    """One parameter of a mapped group's function: its value for the running instance."""

    def __init__(self, group_input: MappedGroupInput, name: str) -> None:
        self.group_input = group_input
        self.name = name

    def resolve(self, context: dict[str, Any]) -> Any:
        return self.group_input.element(context["ti"].map_index, context)[self.name]

    def upstream_tasks(self) -> list[Any]:
        found: list[Any] = []
        for value in self.group_input.values.values():
            if isinstance(value, ResolvableArg):
                found.extend(value.upstream_tasks())
        return found

    def __repr__(self) -> str:
        return f"MappedArgument({self.name!r})"


class SameIndexXComArg(XComArg):
    """The output of a task of the same mapped group: the instance with this map index."""

    def resolve(self, context: dict[str, Any]) -> Any:
        return context["ti"].xcom_pull(task_ids=self.operator.task_id, key=self.key,
                                       map_indexes=context["ti"].map_index)


def mapped_group_input(group: TaskGroup | None = None) -> MappedGroupInput | None:
    """The mapped input of the innermost mapped group around ``group`` (the open one)."""
    group = group if group is not None else current_task_group()
    while group is not None:
        found = getattr(group, "mapped_input", None)
        if found is not None:
            return found  # type: ignore[no-any-return]
        group = group.parent_group
    return None


def same_index_args(value: Any, group_input: MappedGroupInput) -> Any:
    """``value`` with outputs of tasks of the same mapped group read at the same index."""
    if isinstance(value, XComArg) and type(value) is XComArg and value.operator.task_group and (
        mapped_group_input(value.operator.task_group) is group_input
    ):
        return SameIndexXComArg(value.operator, value.key)
    if isinstance(value, list):
        return [same_index_args(v, group_input) for v in value]
    if isinstance(value, tuple):
        return tuple(same_index_args(v, group_input) for v in value)
    if isinstance(value, dict):
        return {k: same_index_args(v, group_input) for k, v in value.items()}
    return value


class TaskGroupDecorator:
    """A function made into a task group factory (see the module docstring)."""

    def __init__(self, function: Callable[..., Any], group_kwargs: dict[str, Any],
                 fixed: dict[str, Any] | None = None) -> None:
        self.function = function
        self.group_kwargs = group_kwargs
        self.fixed = dict(fixed or {})
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def _open(self) -> TaskGroup:
        options = dict(self.group_kwargs)
        options["group_id"] = _free_group_id(options.get("group_id") or self.function.__name__)
        options.setdefault("tooltip", inspect.getdoc(self.function) or "")
        return TaskGroup(**options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._open() as group:
            result = self.function(*args, **self.fixed, **kwargs)
        return group if result is None else result

    def partial(self, **fixed: Any) -> TaskGroupDecorator:
        """Fix arguments shared by every instance of the mapped group."""
        return TaskGroupDecorator(self.function, self.group_kwargs, {**self.fixed, **fixed})

    def expand(self, **mapped: Any) -> Any:
        """Build the group mapped over ``mapped`` (lists, dicts or task outputs)."""
        if not mapped:
            raise DagDefinitionError(
                f"task group {self.function.__name__!r}: expand() needs an argument")
        parameters = inspect.signature(self.function).parameters
        for name in mapped:
            if name not in parameters:
                raise DagDefinitionError(
                    f"task group {self.function.__name__!r} has no argument {name!r}")
        return self._mapped(mapped, list(mapped))

    def expand_kwargs(self, kwargs_list: Any) -> Any:
        """Build the group mapped over a list of dicts of its arguments."""
        parameters = [
            name for name, p in inspect.signature(self.function).parameters.items()
            if name not in self.fixed and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        return self._mapped({_KWARGS: kwargs_list}, parameters)

    def _mapped(self, values: dict[str, Any], names: list[str]) -> Any:
        for name, value in values.items():
            if not isinstance(value, ResolvableArg | Sequence | Mapping) or isinstance(
                    value, str):
                raise DagDefinitionError(
                    f"task group {self.function.__name__!r}: expand({name}=...) needs a list, "
                    f"a dict or a task's output, got {type(value).__name__}")
        group_input = MappedGroupInput(values)
        with self._open() as group:
            group.mapped_input = group_input  # type: ignore[attr-defined]
            arguments = {name: MappedArgument(group_input, name) for name in names}
            result = self.function(**self.fixed, **arguments)
        return group if result is None else result


def task_group(python_callable: Callable[..., Any] | None = None,
               **group_kwargs: Any) -> Any:
    """``@task_group``: calling the decorated function builds its tasks inside a TaskGroup.

    The group id is ``group_id=`` or the function's name; calling the function again in
    the same DAG adds ``__1``, ``__2`` ... to the id. The call returns what the function
    returns (so ``start >> my_group() >> end`` links to the task it returned), or the
    group itself when the function returns nothing. ``.expand()`` maps the whole group.
    """
    if python_callable is not None:
        return TaskGroupDecorator(python_callable, group_kwargs)
    return lambda function: TaskGroupDecorator(function, group_kwargs)


def _free_group_id(base: str) -> str:
    """``base``, or ``base__N`` with the first N whose full group id is not taken yet."""
    dag = current_dag()
    parent = current_task_group()
    if dag is None:
        return base  # TaskGroup itself says that a group needs a DAG

    def full(group_id: str) -> str:
        return parent.child_id(group_id) if parent is not None else group_id

    candidate, number = base, 0
    while full(candidate) in dag.task_group_dict:
        number += 1
        candidate = f"{base}__{number}"
    return candidate


__all__ = ["MappedArgument", "MappedGroupInput", "TaskGroupDecorator", "mapped_group_input",
           "same_index_args", "task_group"]
