"""Setup and teardown tasks as DAG authors declare them.

``task.as_setup()`` marks a task as a setup; ``task.as_teardown(setups=...)`` marks a
teardown and wires its setups upstream of it (the teardown's trigger rule becomes
``all_done_setup_success``: it runs when the work is done, even if the work failed, once
a setup succeeded). ``@setup`` and ``@teardown`` (in :mod:`millstream.operators.decorators`)
do the same for decorated functions.

A teardown (or a setup) is also a context manager: ``with create() >> delete():`` or
``with delete.as_teardown(setups=create):`` puts the tasks created inside between the
setups and the teardowns. The rules that follow from it (run state, clearing) are in
:mod:`millstream.model.setup_teardown`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from millstream.exceptions import DagDefinitionError
from millstream.model.trigger_rules import TriggerRule

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.authoring.task import BaseOperator


def _tasks_of(value: Any) -> list[BaseOperator]:
    """The tasks a setups= argument names: a task, a task's output, or a list of them."""
    from millstream.authoring.dependencies import DependencyMixin

    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        found: list[BaseOperator] = []
        for item in value:
            found.extend(_tasks_of(item))
        return found
    if isinstance(value, DependencyMixin):
        return list(value.dependency_leaves)
    raise DagDefinitionError(f"setups= takes tasks or task outputs, got {value!r}")


def mark_setup(task: BaseOperator) -> None:
    """Make ``task`` a setup task."""
    if task.is_teardown:
        raise DagDefinitionError(
            f"task {task.task_id!r} is a teardown and cannot also be a setup"
        )
    task.is_setup = True


def mark_teardown(task: BaseOperator, setups: Any = None,
                  on_failure_fail_dagrun: bool | None = None) -> None:
    """Make ``task`` a teardown of ``setups`` (which become setups, upstream of it)."""
    if task.is_setup:
        raise DagDefinitionError(
            f"task {task.task_id!r} is a setup and cannot also be a teardown"
        )
    task.is_teardown = True
    task.trigger_rule = TriggerRule.ALL_DONE_SETUP_SUCCESS
    if on_failure_fail_dagrun is not None:
        task.on_failure_fail_dagrun = on_failure_fail_dagrun
    for setup in _tasks_of(setups):
        mark_setup(setup)
        setup.set_downstream(task)


class SetupTeardownScope:
    """The ``with`` block of a setup or teardown task: tasks created inside go between."""

    def __init__(self, task: BaseOperator) -> None:
        if task.dag is None:
            raise DagDefinitionError(
                f"task {task.task_id!r} is in no DAG: it cannot open a setup/teardown block"
            )
        if not (task.is_setup or task.is_teardown):
            raise DagDefinitionError(
                f"task {task.task_id!r}: only a setup or teardown task can be used with 'with'"
            )
        self.dag: DAG = task.dag
        if task.is_teardown:
            self.teardowns = [task]
            self.setups = [self.dag.task_dict[t] for t in sorted(task.upstream_task_ids)
                           if self.dag.task_dict[t].is_setup]
        else:
            self.setups = [task]
            self.teardowns = [self.dag.task_dict[t] for t in sorted(task.downstream_task_ids)
                              if self.dag.task_dict[t].is_teardown]
        self._before: set[str] = set()

    def __enter__(self) -> None:
        self._before = set(self.dag.task_dict)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            return
        created = {t: self.dag.task_dict[t] for t in self.dag.task_dict if t not in self._before}
        for task in created.values():
            if not task.upstream_task_ids & created.keys():
                for setup in self.setups:
                    setup.set_downstream(task)
            if not task.downstream_task_ids & created.keys():
                for teardown in self.teardowns:
                    task.set_downstream(teardown)


__all__ = [
    "SetupTeardownScope",
    "mark_setup",
    "mark_teardown",
]
