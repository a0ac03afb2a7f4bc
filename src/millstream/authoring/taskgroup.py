"""TaskGroup: a named box of tasks whose ids are prefixed and which wires as one node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from millstream.authoring.dag import DAG, checked_identifier, current_dag
from millstream.authoring.dependencies import DependencyMixin
from millstream.exceptions import DagDefinitionError
from millstream.model.identifiers import Identifier

if TYPE_CHECKING:
    from millstream.authoring.task import BaseOperator

_group_stack: list[TaskGroup] = []


def current_task_group() -> TaskGroup | None:
    """The TaskGroup whose ``with`` block is open, if any."""
    return _group_stack[-1] if _group_stack else None


class TaskGroup(DependencyMixin):
    """Groups tasks under ``group_id``: their ids become ``group_id.task_id``.

    ``group >> task`` links the group's leaves to the task; ``task >> group`` links the
    task to the group's roots. Groups nest; ``default_args`` given here apply to the
    tasks inside, over the DAG's.
    """

    def __init__(
        self,
        group_id: str,
        tooltip: str = "",
        prefix_group_id: bool = True,
        default_args: dict[str, Any] | None = None,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        ui_color: str = "#e8f4fd",
    ) -> None:
        self.dag = dag or current_dag()
        if self.dag is None:
            raise DagDefinitionError(
                f"task group {group_id!r} is not in any DAG: create it inside 'with DAG(...)'"
            )
        checked_identifier(group_id, Identifier.TASK,
                           f"DAG {self.dag.dag_id!r}: invalid group_id")
        self.parent_group = parent_group or current_task_group()
        if self.parent_group is not None and self.parent_group.dag is not self.dag:
            self.parent_group = None
        self.prefix_group_id = prefix_group_id
        self.group_id = (
            self.parent_group.child_id(group_id) if self.parent_group is not None else group_id
        )
        self.tooltip = tooltip
        self.ui_color = ui_color
        self.default_args = dict(default_args or {})
        self.children: dict[str, BaseOperator | TaskGroup] = {}
        if self.group_id in self.dag.task_group_dict or self.group_id in self.dag.task_dict:
            raise DagDefinitionError(
                f"DAG {self.dag.dag_id!r}: group id {self.group_id!r} is already used"
            )
        self.dag.task_group_dict[self.group_id] = self
        if self.parent_group is not None:
            self.parent_group.children[self.group_id] = self

    def child_id(self, local_id: str) -> str:
        """The full id of a child called ``local_id``."""
        return f"{self.group_id}.{local_id}" if self.prefix_group_id else local_id

    def merged_default_args(self) -> dict[str, Any]:
        """default_args of the enclosing groups, inner ones winning."""
        merged = self.parent_group.merged_default_args() if self.parent_group else {}
        merged.update(self.default_args)
        return merged

    def add(self, task: BaseOperator) -> None:
        self.children[task.task_id] = task

    def __enter__(self) -> TaskGroup:
        _group_stack.append(self)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        _group_stack.pop()

    def all_tasks(self) -> list[BaseOperator]:
        """Every task inside this group, nested groups included."""
        tasks: list[BaseOperator] = []
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                tasks.extend(child.all_tasks())
            else:
                tasks.append(child)
        return tasks

    @property
    def dependency_roots(self) -> list[BaseOperator]:
        tasks = self.all_tasks()
        inside = {t.task_id for t in tasks}
        return [t for t in tasks if not (t.upstream_task_ids & inside)]

    @property
    def dependency_leaves(self) -> list[BaseOperator]:
        """The group's last tasks; a teardown there stands for the work it tears down after,
        so that ``group >> next`` does not make ``next`` wait on the group's cleanup."""
        tasks = self.all_tasks()
        by_id = {t.task_id: t for t in tasks}
        leaves: list[BaseOperator] = []

        def has_work_downstream(task: BaseOperator, exclude: str) -> bool:
            return any(d != exclude and d in by_id and not by_id[d].is_teardown
                       for d in task.downstream_task_ids)

        def work_before(teardown: BaseOperator) -> list[BaseOperator]:
            found: list[BaseOperator] = []
            for up_id in sorted(teardown.upstream_task_ids & by_id.keys()):
                up = by_id[up_id]
                if up.is_teardown:
                    found.extend(work_before(up))
                elif up.is_setup:
                    continue
                elif not has_work_downstream(up, teardown.task_id):
                    found.append(up)
            return found

        for task in tasks:
            if task.downstream_task_ids & by_id.keys():
                continue
            for leaf in (work_before(task) if task.is_teardown else [task]):
                if leaf not in leaves:
                    leaves.append(leaf)
        return leaves

    def __repr__(self) -> str:
        return f"<TaskGroup: {self.group_id}>"
