"""PythonSensor: waits until a Python callable returns something truthy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from millstream.exceptions import DagDefinitionError
from millstream.operators.python import callable_kwargs
from millstream.sensors.base import BaseSensorOperator, PokeReturnValue


class PythonSensor(BaseSensorOperator):
    """Pokes ``python_callable(*op_args, **op_kwargs, <context keys it declares>)``.

    A truthy result means done; returning ``PokeReturnValue(True, value)`` also pushes
    ``value`` to XCom. ``op_args``, ``op_kwargs`` and ``templates_dict`` are templated.
    """

    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task {self.task_id!r}: python_callable must be callable, got {python_callable!r}"
            )
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        context["templates_dict"] = self.templates_dict
        kwargs = callable_kwargs(self.python_callable, self.op_args, self.op_kwargs, context)
        result = self.python_callable(*self.op_args, **kwargs)
        if isinstance(result, PokeReturnValue):
            return result
        return bool(result)


class DecoratedSensorOperator(PythonSensor):
    """The operator behind ``@task.sensor``: the decorated function is the poke."""
