"""The instances a tick reads once for its outcomes and keeps current until it ends.

A tick applying a try's outcome goes on to look at the tasks downstream of it, and
readiness needs those tasks' instances and their upstream ones. Reading them all with the
outcome's own instance, in one query per run, saves a chain's handoff a statement (a
round trip on PostgreSQL); on PostgreSQL the same query takes the run's row lock, which
the tick takes before deciding what the outcome leads to. What the tick writes to those
instances afterwards is kept in step here; whatever it changes in a way not followed
(skips, suspensions, retries, a DAG that changed) drops the affected entries, and
readiness reads those again.

The records are as read inside the tick's transaction: every write to them is a
compare-and-set, so one another scheduler changed meanwhile fails the tick, which reads
afresh, as it would after any read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

from millstream.runtime.events import TaskFinishedEvent
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord

if TYPE_CHECKING:
    from millstream.scheduler.dag_view import DagView
    from millstream.store.interfaces import Store

RunKey = tuple[str, str]
ByTask = dict[str, list[TaskInstanceRecord]]


class TickReads:
    """Instances read for a tick's outcomes, by run and task, kept current by the tick."""

    def __init__(self) -> None:
        self._runs: dict[RunKey, ByTask] = {}
        self._written: set[TaskInstanceKey] = set()
        self._held: dict[RunKey, DagRunRecord | None] = {}

    def __enter__(self) -> TickReads:
        self.clear()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.clear()

    def read(self, store: Store, dags: Mapping[str, DagView],
             events: Iterable[TaskFinishedEvent]) -> dict[TaskInstanceKey, TaskInstanceRecord]:
        """Read, one query per run, the instances of these outcomes' tasks, of the tasks
        downstream of them and of those tasks' upstream; returns the outcomes' own
        (unmapped) instances. Mapped outcomes' instances are read one by one, as the rest
        of a mapped task's instances may be many."""
        self.clear()
        wanted: dict[RunKey, set[str]] = {}
        for event in events:
            key = event.key
            dag = dags.get(key.dag_id)
            if key.map_index >= 0 or dag is None:
                continue
            task_ids = wanted.setdefault((key.dag_id, key.run_id), set())
            task_ids.add(key.task_id)
            task = dag.task_dict.get(key.task_id)
            for downstream_id in task.downstream_task_ids if task is not None else ():
                downstream = dag.task_dict.get(downstream_id)
                if downstream is not None:
                    task_ids.add(downstream_id)
                    task_ids |= downstream.upstream_task_ids
        found: dict[TaskInstanceKey, TaskInstanceRecord] = {}
        for (dag_id, run_id), task_ids in wanted.items():
            by_task: ByTask = {task_id: [] for task_id in task_ids}
            instances, held = store.task_instances.for_run_holding_run(dag_id, run_id, task_ids)
            for ti in instances:
                by_task[ti.task_id].append(ti)
                if ti.map_index < 0:
                    found[ti.key] = ti
            self._runs[(dag_id, run_id)] = by_task
            self._held[(dag_id, run_id)] = held
        return found

    def held(self, run_key: RunKey) -> DagRunRecord | Literal[False] | None:
        """The run as this tick took its row (see :func:`~millstream.scheduler.runs.hold_run`):
        None if another transaction held it; False if this tick has not taken it."""
        return self._held.get(run_key, False)

    def wrote(self, ti: TaskInstanceRecord) -> None:
        """The tick wrote ``ti``: keep the record it now is."""
        self._written.add(ti.key)
        by_task = self._runs.get((ti.dag_id, ti.run_id))
        instances = by_task.get(ti.task_id) if by_task is not None else None
        if instances is None:
            return
        for index, held in enumerate(instances):
            if held.key == ti.key:
                instances[index] = ti
                return
        self.forget((ti.dag_id, ti.run_id), ti.task_id)  # not read whole: read it again

    def followed(self, key: TaskInstanceKey) -> bool:
        """Whether the tick said what it wrote to this instance (see :meth:`wrote`)."""
        return key in self._written

    def forget(self, run_key: RunKey, task_id: str | None = None) -> None:
        """Drop what is kept of one task of a run, or of the whole run."""
        if task_id is None:
            self._runs.pop(run_key, None)
        elif (by_task := self._runs.get(run_key)) is not None:
            by_task.pop(task_id, None)

    def take(self, run_key: RunKey) -> ByTask:
        """What is kept of a run, handed over (to readiness) and no longer kept here."""
        return self._runs.pop(run_key, {})

    def clear(self) -> None:
        """The tick has ended: nothing read in it is current any more."""
        self._runs.clear()
        self._written.clear()
        self._held.clear()


__all__ = ["TickReads"]
