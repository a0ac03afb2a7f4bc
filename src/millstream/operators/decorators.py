"""TaskFlow: ``@task`` turns a function into a task whose call returns an XComArg."""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from millstream.authoring.dag import current_dag
from millstream.authoring.group_decorator import (
    MappedGroupInput,
    mapped_group_input,
    same_index_args,
)
from millstream.authoring.mapping import GROUP_EXPANSION, MappedOperator, OperatorPartial
from millstream.authoring.task import BaseOperator
from millstream.authoring.taskgroup import current_task_group
from millstream.authoring.xcom_arg import XComArg, wire_upstream
from millstream.exceptions import DagDefinitionError, TaskSkipped
from millstream.operators.bash import DecoratedBashOperator
from millstream.operators.external_python import (
    BranchExternalPythonOperator,
    BranchPythonVirtualenvOperator,
    ExternalPythonOperator,
    PythonVirtualenvOperator,
)
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


# Parameters of these names are filled from the task's context when the call leaves them out.
CONTEXT_PARAMETERS = frozenset({
    "conf", "conn", "dag", "dag_run", "data_interval_end", "data_interval_start", "ds",
    "ds_nodash", "exception", "inlets", "logical_date", "macros", "map_index", "outlets",
    "params", "prev_data_interval_end_success", "prev_data_interval_start_success", "run_id",
    "task", "task_instance", "task_instance_key_str", "templates_dict", "test_mode", "ti",
    "triggering_asset_events", "try_number", "ts", "ts_nodash", "ts_nodash_with_tz", "var",
})


def _call_signature(function: Callable[..., Any]) -> inspect.Signature:
    """The function's signature with context-named parameters optional, as the call may
    leave them to be filled when the task runs."""
    signature = inspect.signature(function)
    parameters = [
        p.replace(default=None) if p.name in CONTEXT_PARAMETERS and p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) else p
        for p in signature.parameters.values()
    ]
    # a defaulted parameter may not precede one without default: make those keyword-only
    ordered: list[inspect.Parameter] = []
    seen_default = False
    for p in parameters:
        if p.default is not p.empty:
            seen_default = True
        elif seen_default and p.kind is p.POSITIONAL_OR_KEYWORD:
            p = p.replace(kind=p.KEYWORD_ONLY)
        ordered.append(p)
    ordered.sort(key=lambda p: p.kind)
    return signature.replace(parameters=ordered)


class TaskDecorator:
    """A function made into a task factory. Call it inside a DAG to add a task."""

    def __init__(
        self,
        function: Callable[..., Any],
        operator_class: type[BaseOperator],
        operator_kwargs: dict[str, Any],
        conditions: tuple[RunCondition, ...] = (),
        role: tuple[str, bool] | None = None,
    ) -> None:
        self.function = function
        self.operator_class = operator_class
        self.operator_kwargs = operator_kwargs
        self.conditions = conditions  # @task.run_if / @task.skip_if, checked before running
        self.role = role  # ("setup" | "teardown", on_failure_fail_dagrun)
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def _finish(self, operator: BaseOperator) -> None:
        """Apply what the stacked decorators asked of the new task."""
        if self.conditions:
            operator.run_conditions = list(self.conditions)  # type: ignore[attr-defined]
        if self.role is not None:
            kind, fail_dagrun = self.role
            if kind == "setup":
                operator.as_setup()
            else:
                operator.as_teardown(on_failure_fail_dagrun=fail_dagrun)

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
            _call_signature(self.function).bind(*args, **kwargs)
        except TypeError as exc:
            raise DagDefinitionError(f"task {self.function.__name__!r}: {exc}") from None
        group_input = mapped_group_input()
        if group_input is not None:
            return self._in_mapped_group(group_input, args, kwargs)
        operator = self.operator_class(
            python_callable=self.function,
            op_args=args,
            op_kwargs=kwargs,
            **self._kwargs({}),
        )
        wire_upstream(operator, list(args), kwargs)
        self._finish(operator)
        return XComArg(operator)

    def _in_mapped_group(self, group_input: MappedGroupInput, args: tuple[Any, ...],
                         kwargs: dict[str, Any]) -> XComArg:
        """Inside a mapped task group the task is mapped with the group."""
        partial_kwargs = {
            "python_callable": self.function,
            "op_args": same_index_args(list(args), group_input),
            "op_kwargs": same_index_args(kwargs, group_input),
            **self._kwargs({}),
        }
        operator = MappedOperator(self.operator_class, partial_kwargs, group_input.values,
                                  GROUP_EXPANSION)
        self._finish(operator)
        return XComArg(operator)

    def override(self, **operator_kwargs: Any) -> TaskDecorator:
        """The same task with some operator arguments changed (task_id, retries ...)."""
        return self._replace(operator_kwargs={**self.operator_kwargs, **operator_kwargs})

    def _replace(self, **changes: Any) -> TaskDecorator:
        fields = {"function": self.function, "operator_class": self.operator_class,
                  "operator_kwargs": self.operator_kwargs, "conditions": self.conditions,
                  "role": self.role}
        fields.update(changes)
        return TaskDecorator(**fields)

    def expand_kwargs(self, kwargs_list: Any) -> XComArg:
        """One task instance per dict of function arguments in ``kwargs_list``."""
        return self.partial().expand_kwargs(kwargs_list)

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
        return self._mapped(mapped, lambda partial: partial.expand(**mapped))

    def expand_kwargs(self, kwargs_list: Any) -> XComArg:
        return self._mapped({}, lambda partial: partial.expand_kwargs(kwargs_list))

    def _mapped(self, mapped: dict[str, Any],
                make: Callable[[OperatorPartial], MappedOperator]) -> XComArg:
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
        mapped_operator = make(partial)
        decorator._finish(mapped_operator)
        return XComArg(mapped_operator)


class RunCondition:
    """``@task.run_if(condition)`` / ``@task.skip_if(condition)``: skip the task when the
    condition, called with the task's context, says so."""

    def __init__(self, condition: Callable[[dict[str, Any]], Any], run_when: bool,
                 skip_message: str | None = None) -> None:
        if not callable(condition):
            raise DagDefinitionError(f"run_if/skip_if needs a callable, got {condition!r}")
        self.condition = condition
        self.run_when = run_when
        self.skip_message = skip_message

    def __call__(self, context: dict[str, Any]) -> None:
        if bool(self.condition(context)) is not self.run_when:
            default = "the run_if condition is false" if self.run_when else (
                "the skip_if condition is true")
            raise TaskSkipped(self.skip_message or default)


def _conditioned(condition: Callable[[dict[str, Any]], Any], run_when: bool,
                 skip_message: str | None) -> Callable[[Any], TaskDecorator]:
    def apply(decorated: Any) -> TaskDecorator:
        target = decorated if isinstance(decorated, TaskDecorator) else task(decorated)
        check = RunCondition(condition, run_when, skip_message)
        return target._replace(conditions=(*target.conditions, check))

    return apply


def run_if(condition: Callable[[dict[str, Any]], Any],
           skip_message: str | None = None) -> Callable[[Any], TaskDecorator]:
    """Stacked above ``@task``: the task runs only when ``condition(context)`` is true,
    and is skipped otherwise."""
    return _conditioned(condition, True, skip_message)


def skip_if(condition: Callable[[dict[str, Any]], Any],
            skip_message: str | None = None) -> Callable[[Any], TaskDecorator]:
    """Stacked above ``@task``: the task is skipped when ``condition(context)`` is true."""
    return _conditioned(condition, False, skip_message)


def setup(function: Any) -> TaskDecorator:
    """``@setup``: a task (a plain function is made a ``@task``) that is a setup task."""
    target = function if isinstance(function, TaskDecorator) else task(function)
    return target._replace(role=("setup", False))


def teardown(function: Any = None, on_failure_fail_dagrun: bool = False) -> Any:
    """``@teardown``: a teardown task; ``on_failure_fail_dagrun=True`` lets its failure fail
    the run."""

    def apply(decorated: Any) -> TaskDecorator:
        target = decorated if isinstance(decorated, TaskDecorator) else task(decorated)
        return target._replace(role=("teardown", on_failure_fail_dagrun))

    return apply if function is None else apply(function)


def make_task_decorator(
    operator_class: type[BaseOperator],
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


_REGISTERED: dict[str, Callable[..., Any]] = {}


def register_task_kind(name: str, decorator: Callable[..., Any]) -> None:
    """Add ``@task.<name>``, for decorators whose operators live in a layer above this one
    (``@task.sensor``); ``millstream/__init__`` registers them."""
    _REGISTERED[name] = decorator


class _TaskNamespace:
    """``@task`` and its kinds: ``python``, ``branch``, ``short_circuit``, ``bash``,
    ``virtualenv``, ``external_python``, ``branch_virtualenv``, ``branch_external_python``,
    ``sensor``, and the stackable ``run_if`` / ``skip_if``."""

    python = staticmethod(make_task_decorator(DecoratedPythonOperator))
    branch = staticmethod(make_task_decorator(DecoratedBranchOperator))
    short_circuit = staticmethod(make_task_decorator(DecoratedShortCircuitOperator))
    bash = staticmethod(make_task_decorator(DecoratedBashOperator))
    virtualenv = staticmethod(make_task_decorator(PythonVirtualenvOperator))
    external_python = staticmethod(make_task_decorator(ExternalPythonOperator))
    branch_virtualenv = staticmethod(make_task_decorator(BranchPythonVirtualenvOperator))
    branch_external_python = staticmethod(make_task_decorator(BranchExternalPythonOperator))
    run_if = staticmethod(run_if)
    skip_if = staticmethod(skip_if)

    def __call__(
        self, python_callable: Callable[..., Any] | None = None, **operator_kwargs: Any
    ) -> Any:
        return self.python(python_callable, **operator_kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in _REGISTERED:
            return _REGISTERED[name]
        raise AttributeError(f"there is no @task.{name}")


task = _TaskNamespace()

__all__ = ["BaseOperator", "RunCondition", "TaskDecorator", "make_task_decorator",
           "register_task_kind", "run_if",
           "setup", "skip_if", "task", "teardown"]
