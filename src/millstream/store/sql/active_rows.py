"""Which runs and task instances are still active, as the SQL that finds them by index.

The scheduler looks for a DAG's queued and running runs on every round and for a run's
unfinished instances on every tick; the rest of ``dag_run`` and ``task_instance`` is
history, which only grows. The indexes that find active rows (``ix_dag_run_active`` and
``ix_task_instance_unfinished``, migration 0013) are partial: they hold the active rows
alone. Creating a run, starting it and finishing its instances then write entries in
small indexes, not one page per DAG in indexes the size of the history beside it; and
a DAG's active runs are found without reading its finished ones.

A database uses a partial index only for a statement whose WHERE clause implies the
index's condition: SQLite needs the very condition among the statement's terms, and
PostgreSQL must prove it without the parameters' values (a generic plan). So statements
that look for active rows add :func:`active_run` or :func:`unfinished_instance`, whose
values are literal SQL, as the indexes' conditions are.

The conditions list the states two at a time (``state IN ('queued', 'running')``, and
for more states such lists joined by OR). SQLite evaluates a partial index's condition
for every row written to the table: a list of two values it compares one by one, but of
more it builds a temporary table each time a statement runs, which cost each insert
and state change of an instance more than the index saved. A list of one value is an
equality, ``state = 'queued'``, which SQLite matches against a statement's ``state = ?``
by the value bound, then prepares the statement again whenever another value is bound:
the compare-and-set updates of a state would be prepared again on most executions. So
an odd last state is listed twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, literal_column, or_

from millstream.model.states import UNFINISHED_RUN_STATES, UNFINISHED_TASK_STATES

ACTIVE_RUN_STATES = tuple(sorted(state.value for state in UNFINISHED_RUN_STATES))
"""The states of the runs in ``ix_dag_run_active``, in the order its condition lists them."""
UNFINISHED_TI_STATES = tuple(sorted(state.value for state in UNFINISHED_TASK_STATES))
"""The states of the instances in ``ix_task_instance_unfinished``, in the same order."""


def _in_twos(values: tuple[str, ...]) -> list[tuple[str, str]]:
    padded = [*values, values[-1]] if len(values) % 2 else list(values)
    return [(padded[i], padded[i + 1]) for i in range(0, len(padded), 2)]


def _condition(values: tuple[str, ...]) -> str:
    return " OR ".join(f"state IN ('{first}', '{second}')" for first, second in _in_twos(values))


ACTIVE_RUN_CONDITION = _condition(ACTIVE_RUN_STATES)
"""The condition of ``ix_dag_run_active``, as its CREATE INDEX has it."""
UNFINISHED_TI_CONDITION = _condition(UNFINISHED_TI_STATES)
"""The condition of ``ix_task_instance_unfinished``, as its CREATE INDEX has it."""


def _one_of_literals(column: ColumnElement[Any], values: tuple[str, ...]
                     ) -> ColumnElement[bool]:
    return or_(*(column.in_([literal_column(f"'{first}'"), literal_column(f"'{second}'")])
                 for first, second in _in_twos(values)))


def active_run(state: ColumnElement[Any]) -> ColumnElement[bool]:
    """``state IN ('queued', 'running')`` on a run's state column, values as literals."""
    return _one_of_literals(state, ACTIVE_RUN_STATES)


def unfinished_instance(state: ColumnElement[Any]) -> ColumnElement[bool]:
    """The unfinished states, two at a time, on a task instance's state column."""
    return _one_of_literals(state, UNFINISHED_TI_STATES)


__all__ = [
    "ACTIVE_RUN_CONDITION",
    "ACTIVE_RUN_STATES",
    "UNFINISHED_TI_CONDITION",
    "UNFINISHED_TI_STATES",
    "active_run",
    "unfinished_instance",
]
