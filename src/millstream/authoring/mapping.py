"""Dynamic task mapping: ``Operator.partial(...).expand(...)`` and its run-time unmapping."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from millstream.authoring.dag import _dag_stack, current_dag
from millstream.authoring.task import BaseOperator, _init_parameters
from millstream.authoring.taskgroup import _group_stack
from millstream.authoring.xcom_arg import (
    _NOTSET,
    ConcatXComArg,
    MapXComArg,
    ResolvableArg,
    XComArg,
    ZipXComArg,
    resolve_nested,
    wire_upstream,
)
from millstream.exceptions import DagDefinitionError

_BASE_PARAMETERS = _init_parameters(BaseOperator)


EXPAND_KWARGS = "__expand_kwargs__"  # the one "argument" of expand_kwargs(): a list of dicts
GROUP_EXPANSION = "__mapped_group__"  # expand_into of a task mapped with its task group


@dataclass(frozen=True, slots=True)
class ExpandSource:
    """Where one expanded argument comes from: a literal of known length, a task's XCom,
    or a combination of those (``kind``: ``map`` keeps the length of its one part, ``zip``
    takes the shortest part, or the longest with ``fill``, ``concat`` adds them up)."""

    literal_length: int | None = None
    xcom_task_id: str | None = None
    xcom_key: str = "return_value"
    kind: str = ""
    parts: tuple[ExpandSource, ...] = ()
    fill: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"literal_length": self.literal_length,
                                "xcom_task_id": self.xcom_task_id, "xcom_key": self.xcom_key}
        if self.kind:
            data.update(kind=self.kind, parts=[p.to_json() for p in self.parts], fill=self.fill)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExpandSource:
        return cls(data["literal_length"], data["xcom_task_id"], data["xcom_key"],
                   data.get("kind", ""), tuple(cls.from_json(p) for p in data.get("parts", ())),
                   bool(data.get("fill", False)))

    def count(self, value_of: Callable[[str, str], Any], name: str, task_id: str) -> int:
        """How many items this source gives; ``value_of(task_id, key)`` reads an XCom."""
        if self.kind == "map":
            return self.parts[0].count(value_of, name, task_id)
        if self.kind in ("zip", "concat"):
            counts = [p.count(value_of, name, task_id) for p in self.parts]
            if self.kind == "concat":
                return sum(counts)
            return (max if self.fill else min)(counts, default=0)
        if self.xcom_task_id is not None:
            value = value_of(self.xcom_task_id, self.xcom_key)
            return len(_as_sequence(value, name, task_id))
        if self.literal_length is None:
            raise ValueError(f"task {task_id!r}: {name!r} has nothing to expand")
        return self.literal_length


def source_of(value: Any, name: str, task_id: str) -> ExpandSource:
    """The :class:`ExpandSource` of one expanded value."""
    if isinstance(value, MapXComArg):
        return ExpandSource(kind="map", parts=(source_of(value.sources[0], name, task_id),))
    if isinstance(value, ZipXComArg | ConcatXComArg):
        parts = tuple(source_of(v, name, task_id) for v in value.sources)
        kind = "zip" if isinstance(value, ZipXComArg) else "concat"
        fill = isinstance(value, ZipXComArg) and value.fillvalue is not _NOTSET
        return ExpandSource(kind=kind, parts=parts, fill=fill)
    if isinstance(value, XComArg):
        return ExpandSource(None, value.operator.task_id, value.key)
    if isinstance(value, ResolvableArg):
        raise DagDefinitionError(
            f"task {task_id!r}: expand({name}=...) can only take a list, a dict "
            "or a task's output"
        )
    return ExpandSource(len(value))


class OperatorPartial:
    """An operator class with some arguments fixed, waiting for ``.expand()``."""

    def __init__(
        self,
        operator_class: type[BaseOperator],
        kwargs: dict[str, Any],
        expand_into: str | None = None,
    ) -> None:
        if "task_id" not in kwargs:
            raise DagDefinitionError(f"{operator_class.__name__}.partial() needs a task_id")
        self.operator_class = operator_class
        self.kwargs = kwargs
        self.expand_into = expand_into

    def expand(self, **mapped: Any) -> MappedOperator:
        """Create one task instance per element (or per combination) of the mapped values."""
        return MappedOperator(self.operator_class, self.kwargs, mapped, self.expand_into)

    def expand_kwargs(self, kwargs_list: Any) -> MappedOperator:
        """One task instance per dict of ``kwargs_list`` (a list of dicts or a task's output),
        each dict giving that instance's arguments."""
        literal = not isinstance(kwargs_list, ResolvableArg)
        if literal and (not isinstance(kwargs_list, Sequence) or isinstance(kwargs_list, str)
                        or not all(isinstance(item, Mapping) for item in kwargs_list)):
            raise DagDefinitionError(
                f"task {self.kwargs['task_id']!r}: expand_kwargs() needs a list of dicts "
                "or a task's output"
            )
        return MappedOperator(self.operator_class, self.kwargs, {EXPAND_KWARGS: kwargs_list},
                              self.expand_into)


class MappedOperator(BaseOperator):
    """A task that becomes one instance per element of its expanded arguments.

    A literal list is known when the DAG is parsed; an XComArg is resolved when its
    upstream task has finished. Several expanded arguments combine as a cross product.
    """

    is_mapped = True
    _wrap_init_with_defaults = False  # defaults are applied to the partial kwargs instead

    def __init__(
        self,
        operator_class: type[BaseOperator],
        partial_kwargs: dict[str, Any],
        expand_input: dict[str, Any],
        expand_into: str | None = None,
    ) -> None:
        dag = partial_kwargs.get("dag") or current_dag()
        task_id = partial_kwargs["task_id"]
        where = f"DAG {dag.dag_id!r}, task {task_id!r}" if dag else f"task {task_id!r}"
        if not expand_input:
            raise DagDefinitionError(f"{where}: expand() needs at least one argument")
        accepted = _init_parameters(operator_class)
        for name, value in expand_input.items():
            if name == EXPAND_KWARGS:
                continue
            if expand_into is None and name not in accepted:
                raise DagDefinitionError(
                    f"{where}: {operator_class.__name__} has no argument {name!r} to expand"
                )
            if name in ("task_id", "dag", "task_group"):
                raise DagDefinitionError(f"{where}: {name!r} cannot be expanded")
            if not isinstance(value, ResolvableArg | Sequence | Mapping) or isinstance(value, str):
                raise DagDefinitionError(
                    f"{where}: expand({name}=...) needs a list, a dict or a task's output, "
                    f"got {type(value).__name__}"
                )
        unknown = set(partial_kwargs) - accepted
        if unknown:
            raise DagDefinitionError(
                f"{where}: {operator_class.__name__} got unknown arguments: "
                f"{', '.join(sorted(unknown))}"
            )
        base_kwargs = {k: v for k, v in partial_kwargs.items() if k in _BASE_PARAMETERS}
        super().__init__(**base_kwargs)
        self.operator_class = operator_class
        self.partial_kwargs = {
            k: v for k, v in partial_kwargs.items() if k not in ("dag", "task_group", "task_id")
        }
        # default_args that the concrete operator accepts, captured while the DAG is open
        merged_defaults: dict[str, Any] = {}
        if self.dag is not None:
            merged_defaults.update(self.dag.default_args)
        if self.task_group is not None:
            merged_defaults.update(self.task_group.merged_default_args())
        for key, value in merged_defaults.items():
            if key in accepted and key not in self.partial_kwargs:
                self.partial_kwargs[key] = getattr(self, key) if key in _BASE_PARAMETERS else value
        self.expand_input = dict(expand_input)
        self.expand_into = expand_into
        self.template_fields = operator_class.template_fields  # type: ignore[misc]
        wire_upstream(self, list(self.expand_input.values()), list(self.partial_kwargs.values()))

    def expansion_sources(self) -> dict[str, ExpandSource]:
        """Where each expanded argument comes from, as the scheduler needs it to expand."""
        return {name: source_of(value, name, self.task_id)
                for name, value in self.expand_input.items()}

    def unmap(self, map_index: int, context: dict[str, Any]) -> BaseOperator:
        """The concrete operator for one map index, with its expanded values resolved."""
        values = {k: _as_sequence(resolve_nested(v, context), k, self.task_id)
                  for k, v in self.expand_input.items()}
        total = math.prod(len(v) for v in values.values())
        if not 0 <= map_index < total:
            raise IndexError(f"task {self.task_id!r} has no map index {map_index}")
        combination = next(itertools.islice(itertools.product(*values.values()), map_index, None))
        chosen = dict(zip(values, combination, strict=True))
        if EXPAND_KWARGS in chosen:
            element = chosen.pop(EXPAND_KWARGS)
            if not isinstance(element, Mapping):
                raise TypeError(f"task {self.task_id!r}: expand_kwargs() element {map_index} "
                                f"is not a dict but {type(element).__name__}")
            chosen.update(element)
        kwargs = dict(self.partial_kwargs)
        if self.expand_into == GROUP_EXPANSION:
            pass  # its arguments read the group's element themselves (MappedArgument)
        elif self.expand_into:
            kwargs[self.expand_into] = {**kwargs.get(self.expand_into, {}), **chosen}
        else:
            kwargs.update(chosen)
        saved_dags, saved_groups = list(_dag_stack), list(_group_stack)
        _dag_stack.clear()
        _group_stack.clear()
        try:
            operator = self.operator_class(task_id=self.task_id, **kwargs)
        finally:
            _dag_stack[:] = saved_dags
            _group_stack[:] = saved_groups
        operator.task_id = self.task_id
        operator.dag = self.dag
        operator.task_group = self.task_group
        operator.upstream_task_ids = self.upstream_task_ids
        operator.downstream_task_ids = self.downstream_task_ids
        operator.run_conditions = self.run_conditions
        operator.is_setup, operator.is_teardown = self.is_setup, self.is_teardown
        operator.on_failure_fail_dagrun = self.on_failure_fail_dagrun
        return operator


def expansion_length(values: Mapping[str, Any], task_id: str) -> int:
    """How many instances a mapped task gets for these resolved expand values."""
    return math.prod(len(_as_sequence(v, k, task_id)) for k, v in values.items())


def _as_sequence(value: Any, name: str, task_id: str) -> Sequence[Any]:
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return value
    raise TypeError(
        f"task {task_id!r}: expanded argument {name!r} must be a list or dict, "
        f"got {type(value).__name__}"
    )

