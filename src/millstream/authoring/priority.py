"""Custom priority weight strategies (Airflow 3's ``weight_rule=PriorityWeightStrategy()``).

millstream's scheduler orders tasks by weights it computes itself from the graph
(``downstream``, ``upstream``, ``absolute``) and never runs user code. A custom strategy
is therefore asked once, when the DAG is parsed, for the weight of the task's first try;
the task then has that weight as an ``absolute`` one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from millstream.exceptions import DagDefinitionError

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator


class PriorityWeightStrategy:
    """Base of custom strategies: ``get_weight(ti)`` returns the task instance's weight."""

    def get_weight(self, ti: Any) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement get_weight(ti)")


@dataclass(frozen=True, slots=True)
class _FirstTry:
    """What a strategy sees at parse time: the task's first, unmapped try."""

    task: Any
    task_id: str
    try_number: int = 1
    map_index: int = -1


def is_strategy(value: object) -> bool:
    """Whether ``weight_rule`` names a custom strategy rather than a built-in rule."""
    return callable(getattr(value, "get_weight", None)) or (
        isinstance(value, str) and "." in value)


def strategy_weight(value: object, task: BaseOperator, where: str) -> int:
    """The weight a custom strategy (an object, or its class's dotted path) gives the
    task's first try."""
    strategy = value
    if isinstance(value, str):
        module, _, name = value.rpartition(".")
        try:
            strategy = getattr(importlib.import_module(module), name)()
        except (ImportError, AttributeError, TypeError) as exc:
            raise DagDefinitionError(
                f"{where}: weight_rule {value!r} names no priority weight strategy: {exc}"
            ) from None
    try:
        weight = strategy.get_weight(_FirstTry(task, task.task_id))  # type: ignore[attr-defined]
    except Exception as exc:
        raise DagDefinitionError(
            f"{where}: the priority weight strategy {type(strategy).__name__} failed: {exc}"
        ) from exc
    if isinstance(weight, bool) or not isinstance(weight, int):
        raise DagDefinitionError(
            f"{where}: the priority weight strategy {type(strategy).__name__} returned "
            f"{weight!r}, not an integer"
        )
    return weight


__all__ = ["PriorityWeightStrategy", "is_strategy", "strategy_weight"]
