"""The grid's details panel: a task try's essentials (state, tries, times, error, the end of
its log, its actions) or a run's, loaded for one cell or one run header."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from millstream.api.remote_logs import RemoteLogs
from millstream.store.interfaces import Store
from millstream.store.records import DagRunRecord, TaskInstanceKey, TaskInstanceRecord
from millstream.ui.dagpage import load_structure, require_run
from millstream.ui.errors import PageError
from millstream.ui.logs import log_excerpt
from millstream.ui.states import summary_state

EXCERPT_LINES = 40


@dataclass(frozen=True, slots=True)
class TryFacts:
    """One try of the instance, as the panel lists it."""

    try_number: int
    state: str


@dataclass(frozen=True, slots=True)
class Details:
    """What the panel shows: a run, and maybe one of its task instances (or a mapped task's
    instances)."""

    run: DagRunRecord
    task_id: str | None = None
    ti: TaskInstanceRecord | None = None
    operator: str | None = None
    tries: list[TryFacts] = field(default_factory=list)
    mapped: list[TaskInstanceRecord] = field(default_factory=list)
    log: str = ""
    log_cut: bool = False
    state_counts: list[tuple[str, int]] = field(default_factory=list)

    @property
    def mapped_state(self) -> str:
        return summary_state(t.state for t in self.mapped)


def load_details(store: Store, log_folder: str | os.PathLike[str], dag_id: str,
                 run_id: str | None, task_id: str | None, map_index: int = -1,
                 remote: RemoteLogs | None = None) -> Details:
    """The panel of one run (``task_id`` None) or of one task instance of it (its log read
    from the worker that ran it, with ``remote``, when it is not here)."""
    with store.transaction():
        run = require_run(store, dag_id, run_id)
        if not task_id:
            counts = Counter(ti.state.value for ti in store.task_instances.for_run(dag_id,
                                                                                    run.run_id))
            return Details(run, state_counts=sorted(counts.items()))
        ti = store.task_instances.get(TaskInstanceKey(dag_id, run.run_id, task_id, map_index))
        mapped: list[TaskInstanceRecord] = []
        if ti is None:
            mapped = [t for t in store.task_instances.for_run(dag_id, run.run_id, [task_id])
                      if t.map_index >= 0]
            if not mapped:
                raise PageError(404, f"run {run.run_id!r} of DAG {dag_id!r} has no task "
                                     f"{task_id!r}")
        tries = [TryFacts(t.try_number, t.state.value)
                 for t in store.task_instances.tries(ti.key)] if ti is not None else []
    structure = load_structure(store, dag_id, run.dag_version)
    task = structure.task_dict.get(task_id)
    operator = task.operator_name if task is not None else None
    if ti is None:
        return Details(run, task_id, None, operator, mapped=mapped)
    if ti.try_number > 0 and ti.try_number not in {t.try_number for t in tries}:
        tries.append(TryFacts(ti.try_number, ti.state.value))
    tries.sort(key=lambda t: t.try_number)
    text, cut = log_excerpt(log_folder, ti, ti.try_number, EXCERPT_LINES, remote) \
        if ti.try_number >= 1 else ("", False)
    return Details(run, task_id, ti, operator, tries, log=text, log_cut=cut)


__all__ = ["Details", "TryFacts", "load_details"]
