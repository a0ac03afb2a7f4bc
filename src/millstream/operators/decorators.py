"""TaskFlow: ``@task`` turns a function into a task whose call returns an XComArg."""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from millstream.authoring.dag import current_dag
from millstream.authoring.mapping import MappedOperator, OperatorPartial
from millstream.authoring.task import BaseOperator
from millstream.authoring.taskgroup import current_task_group
from millstream.authoring.xcom_arg import XComArg, wire_upstream
from millstream.exceptions import DagDefinitionError
from millstream.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)


class DecoratedPythonOperator(PythonOperator):
    """The operator behind ``@task``."""


class DecoratedBranchOperator(BranchPythonOperator):
    """The operator behind ``@task.branch``."""


class DecoratedShortCircuitOperator(ShortCircuitOperator):
    """The operator behind ``@task.short_circuit``."""


def _returns_dict(function: Callable[..., Any]) -> bool:
    try:
        hint = typing.get_type_hints(function).get("return")
    except Exception:  # unresolved forward references: do not guess
        return False
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and issubclass(origin, Mapping)


def _unique_task_id(task_id: str) -> str:
    """Airflow-style de-duplication: a second call of the same function gets ``id__1``."""
    dag = current_dag()
    group = current_task_group()
    full = group.child_id(task_id) if group is not None else task_id
    if dag is None or full not in dag.task_dict:
        return task_id
    base = re.sub(r"__\d+$", "", task_id)
    n = 1
    while (group.child_id(f"{base}__{n}") if group else f"{base}__{n}") in dag.task_dict:
        n += 1
    return f"{base}__{n}"


class TaskDecorator:
    """A function made into a task factory. Call it inside a DAG to add a task."""

    def __init__(
        self,
        function: Callable[..., Any],
        operator_class: type[PythonOperator],
        operator_kwargs: dict[str, Any],
    ) -> None:
        self.function = function
        self.operator_class = operator_class
        self.operator_kwargs = operator_kwargs
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def _kwargs(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = {**self.operator_kwargs, **extra}
        kwargs.setdefault("task_id", self.function.__name__)
        if kwargs.get("multiple_outputs") is None:
            kwargs["multiple_outputs"] = _returns_dict(self.function)
        kwargs["task_id"] = _unique_task_id(kwargs["task_id"])
        return kwargs

    def _check_in_dag(self) -> None:
        if current_dag() is None:
            raise DagDefinitionError(
                f"task {self.function.__name__!r} was called outside any DAG: call it inside "
                "'with DAG(...)' or a @dag function"
            )

    def __call__(self, *args: Any, **kwargs: Any) -> XComArg:
        self._check_in_dag()
        try:
            inspect.signature(self.function).bind(*args, **kwargs)
        except TypeError as exc:
            raise DagDefinitionError(f"task {self.function.__name__!r}: {exc}") from None
        operator = self.operator_class(
            python_callable=self.function,
            op_args=args,
            op_kwargs=kwargs,
            **self._kwargs({}),
        )
        wire_upstream(operator, list(args), kwargs)
        return XComArg(operator)

    def override(self, **operator_kwargs: Any) -> TaskDecorator:
        """The same task with some operator arguments changed (task_id, retries ...)."""
        return TaskDecorator(
            self.function, self.operator_class, {**self.operator_kwargs, **operator_kwargs}
        )

    def partial(self, **kwargs: Any) -> _DecoratedPartial:
        """Fix some function arguments shared by every mapped instance."""
        return _DecoratedPartial(self, kwargs)

    def expand(self, **mapped: Any) -> XComArg:
        """One task instance per element of the mapped arguments."""
        return self.partial().expand(**mapped)


class _DecoratedPartial:
    def __init__(self, decorator: TaskDecorator, fixed: dict[str, Any]) -> None:
        self.decorator = decorator
        self.fixed = fixed

    def expand(self, **mapped: Any) -> XComArg:
        decorator = self.decorator
        decorator._check_in_dag()
        parameters = inspect.signature(decorator.function).parameters
        for name in [*mapped, *self.fixed]:
            if name not in parameters and not any(
                p.kind is p.VAR_KEYWORD for p in parameters.values()
            ):
                raise DagDefinitionError(
                    f"task {decorator.function.__name__!r} has no argument {name!r}"
                )
        kwargs = decorator._kwargs({})
        partial = OperatorPartial(
            decorator.operator_class,
            {"python_callable": decorator.function, "op_kwargs": dict(self.fixed), **kwargs},
            expand_into="op_kwargs",
        )
        mapped_operator: MappedOperator = partial.expand(**mapped)
        return XComArg(mapped_operator)


def _make_decorator(
    operator_class: type[PythonOperator],
) -> Callable[..., Any]:
    def decorate(
        python_callable: Callable[..., Any] | None = None, **operator_kwargs: Any
    ) -> Any:
        if python_callable is not None:
            return TaskDecorator(python_callable, operator_class, operator_kwargs)

        def wrap(function: Callable[..., Any]) -> TaskDecorator:
            return TaskDecorator(function, operator_class, operator_kwargs)

        return wrap

    return decorate


class _TaskNamespace:
    """``@task``, ``@task.python``, ``@task.branch`` and ``@task.short_circuit``."""

    python = staticmethod(_make_decorator(DecoratedPythonOperator))
    branch = staticmethod(_make_decorator(DecoratedBranchOperator))
    short_circuit = staticmethod(_make_decorator(DecoratedShortCircuitOperator))

    def __call__(
        self, python_callable: Callable[..., Any] | None = None, **operator_kwargs: Any
    ) -> Any:
        return self.python(python_callable, **operator_kwargs)


task = _TaskNamespace()

__all__ = ["BaseOperator", "TaskDecorator", "task"]
