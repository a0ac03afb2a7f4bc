"""Operators that run Python callables: Python, BranchPython and ShortCircuit operators."""

from __future__ import annotations

import asyncio
import inspect
import logging
import types
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from millstream.authoring.asset_expressions import Metadata
from millstream.authoring.task import BaseOperator
from millstream.exceptions import DagDefinitionError
from millstream.operators.skipping import branch_targets, skip_tasks

log = logging.getLogger("millstream.task")


def callable_kwargs(
    python_callable: Callable[..., Any],
    op_args: Sequence[Any],
    op_kwargs: Mapping[str, Any],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Keyword arguments for ``python_callable``: its op_kwargs plus the context keys it takes.

    A callable with ``**kwargs`` receives the whole context; otherwise only the context
    keys it names as parameters (and that are not already filled positionally).
    """
    takes_everything, positional, by_name = _parameters(python_callable)
    filled = positional[: len(op_args)]
    kwargs: dict[str, Any] = {}
    for key, value in context.items():
        if key in filled or key in op_kwargs:
            continue
        if takes_everything or key in by_name:
            kwargs[key] = value
    kwargs.update(op_kwargs)
    return kwargs


_Parameters = tuple[bool, tuple[str, ...], frozenset[str]]
_by_code: dict[int, tuple[types.CodeType, _Parameters]] = {}


def _parameters(python_callable: Callable[..., Any]) -> _Parameters:
    """Whether it takes ``**kwargs``, its positional parameters, those that can be given
    by name. Kept per code object for a plain function (what a signature says of its
    parameters comes from its code alone), so a task run again does not inspect it again."""
    plain = (type(python_callable) is types.FunctionType
             and "__wrapped__" not in python_callable.__dict__
             and "__signature__" not in python_callable.__dict__)
    if plain:
        code = python_callable.__code__
        known = _by_code.get(id(code))
        if known is not None and known[0] is code:
            return known[1]
    parameters = inspect.signature(python_callable).parameters.values()
    found = (any(p.kind is p.VAR_KEYWORD for p in parameters),
             tuple(p.name for p in parameters
                   if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)),
             frozenset(p.name for p in parameters if p.kind is not p.POSITIONAL_ONLY))
    if plain:
        if len(_by_code) >= 1024:
            _by_code.clear()
        _by_code[id(code)] = (code, found)  # the code is kept: its id is not reused
    return found


class PythonOperator(BaseOperator):
    """Calls ``python_callable(*op_args, **op_kwargs, <context keys it declares>)``.

    ``op_args``, ``op_kwargs`` and ``templates_dict`` are rendered as templates first;
    ``templates_dict`` is passed as a context key of the same name.
    """

    template_fields = ("templates_dict", "op_args", "op_kwargs")
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if templates_exts is not None:  # values ending so are template files to read
            self.template_ext = tuple(templates_exts)
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task {self.task_id!r}: python_callable must be callable, got {python_callable!r}"
            )
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: dict[str, Any]) -> Any:
        context["templates_dict"] = self.templates_dict
        result = self.execute_callable(context)
        if self.show_return_value_in_logs:
            log.info("Done. Returned value was: %r", result)
        return result

    def execute_callable(self, context: dict[str, Any]) -> Any:
        kwargs = callable_kwargs(self.python_callable, self.op_args, self.op_kwargs, context)
        result = self.python_callable(*self.op_args, **kwargs)
        if inspect.iscoroutine(result):  # an ``async def`` callable runs to its end here
            return asyncio.run(result)
        if inspect.isgenerator(result):
            return drain_metadata(result, context)
        return result


def drain_metadata(generator: Generator[Any, Any, Any], context: Mapping[str, Any]) -> Any:
    """Run a generator callable to its end: each ``Metadata`` it yields sets the extra of
    its asset's event (through its alias too, if it names one); its return value is the
    task's. Anything else yielded is logged and ignored, as in Airflow."""
    events = context.get("outlet_events")
    while True:
        try:
            item = next(generator)
        except StopIteration as stop:
            return stop.value
        if isinstance(item, Metadata) and events is not None:
            events[item.asset].extra.update(item.extra)
            if item.alias is not None:
                events[item.alias].add(item.asset, extra=dict(item.extra))
            continue
        log.warning("ignoring %r yielded by the task: only Metadata is understood",
                    type(item).__name__)


class BranchPythonOperator(PythonOperator):
    """Runs a callable returning the task id(s) to follow; other direct downstream are skipped."""

    ui_color = "#fff2cc"

    def execute(self, context: dict[str, Any]) -> Any:
        chosen = super().execute(context)
        follow = branch_targets(context, chosen)
        log.info("Following branch %s", sorted(follow))
        skip_tasks(context, self.downstream_task_ids - follow)
        return chosen


class ShortCircuitOperator(PythonOperator):
    """Runs a callable; a falsy result skips the downstream tasks.

    With ``ignore_downstream_trigger_rules=True`` (the default) every task downstream is
    skipped; with False only the direct downstream tasks are, and their trigger rules
    decide the rest.
    """

    ui_color = "#f0e4ff"

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: dict[str, Any]) -> Any:
        result = super().execute(context)
        if result:
            log.info("Condition is truthy: downstream tasks proceed")
            return result
        if self.ignore_downstream_trigger_rules:
            to_skip = self.get_flat_relative_ids(upstream=False)
        else:
            to_skip = set(self.downstream_task_ids)
        log.info("Condition is falsy: skipping %s", sorted(to_skip))
        skip_tasks(context, to_skip)
        return result
