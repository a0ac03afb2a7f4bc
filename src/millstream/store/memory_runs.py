"""The in-memory DAG runs and task instances, held to the SQL store's contract.

Records are immutable and stored as given; what a caller could still change in place
(a run's conf, a deferral's kwargs) is copied on the way in and on the way out, so a
record read never aliases the store. State changes are compare-and-sets on the state the
caller's record holds, as on SQL: a record that is no longer current raises
:class:`StaleRecordError` and changes nothing.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from millstream.exceptions import ConflictError, StaleRecordError
from millstream.model.states import (
    FINISHED_TASK_STATES,
    DagRunState,
    InvalidTransition,
    TaskState,
    check_run_transition,
    check_transition,
)
from millstream.store.memory_journal import Journal, JournaledRepo
from millstream.store.memory_resume import latest_scheduled_runs
from millstream.store.records import (
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
    try_record_of,
)
from millstream.store.trigger_records import suspension_reset

_RUN_FIELDS = frozenset(f.name for f in fields(DagRunRecord))
_RUN_KEY_FIELDS = frozenset({"dag_id", "run_id"})
_TI_FIELDS = frozenset(f.name for f in fields(TaskInstanceRecord))
_TI_KEY_FIELDS = frozenset({"dag_id", "run_id", "task_id", "map_index"})
_ACTIVE = frozenset({DagRunState.QUEUED, DagRunState.RUNNING})


def _check_changes(
    owner: str, allowed: frozenset[str], key_fields: frozenset[str], changes: Iterable[str]
) -> None:
    """The SQL store's checks of a state change's extra fields (see sql/convert.py)."""
    for name in changes:
        if name not in allowed:
            raise AttributeError(f"{owner}: no field {name!r} to set")
        if name in key_fields:
            raise ValueError(f"{owner}: field {name!r} identifies the record and cannot change")


def _stale(what: str, held: object, current: object | None) -> StaleRecordError:
    if current is None:
        return StaleRecordError(f"{what} is not in the store")
    return StaleRecordError(
        f"{what} changed since it was read: the record says {str(held)!r}, "
        f"the store says {str(current)!r}"
    )


def _detached_run(run: DagRunRecord) -> DagRunRecord:
    """``run`` with a conf of its own."""
    return replace(run, conf=copy.deepcopy(run.conf))


def _detached_ti(ti: TaskInstanceRecord) -> TaskInstanceRecord:
    """``ti`` with deferral kwargs of its own (most instances have none to copy)."""
    if ti.next_kwargs is None:
        return ti
    return replace(ti, next_kwargs=copy.deepcopy(ti.next_kwargs))


class MemoryRunRepo(JournaledRepo):
    """DAG runs in a dict keyed by (dag_id, run_id)."""

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._runs: dict[tuple[str, str], DagRunRecord] = {}
        self.cascade: list[Callable[[str, str], None]] = []  # what goes with a deleted run
        # Whether the store holds a DAG: only stored DAGs have a resume point, as on SQL.
        self.dag_stored: Callable[[str], bool] = lambda dag_id: True

    def add(self, run: DagRunRecord) -> None:
        key = (run.dag_id, run.run_id)
        if key in self._runs:
            raise ConflictError(f"DAG {run.dag_id!r} already has a run {run.run_id!r}")
        if self._find(run.dag_id, run.logical_date) is not None:
            raise ConflictError(
                f"DAG {run.dag_id!r} already has a run for logical date "
                f"{run.logical_date.isoformat()}"
            )
        self._remember(self._runs, key)
        self._runs[key] = _detached_run(run)

    def add_new(self, runs: Sequence[DagRunRecord]) -> list[DagRunRecord]:
        added = []
        for run in runs:
            try:
                self.add(run)
            except ConflictError:
                continue  # a run of the same id or date: passed over, as SQL does
            added.append(run)
        return added

    def active_counts(self, dag_ids: Collection[str]) -> dict[str, int]:
        wanted = set(dag_ids)
        counts: dict[str, int] = {}
        for run in self._runs.values():
            if run.dag_id in wanted and run.state in _ACTIVE:
                counts[run.dag_id] = counts.get(run.dag_id, 0) + 1
        return counts

    def get(self, dag_id: str, run_id: str) -> DagRunRecord | None:
        run = self._runs.get((dag_id, run_id))
        return _detached_run(run) if run is not None else None

    def lock(self, dag_id: str, run_id: str) -> DagRunRecord | None:
        return self.get(dag_id, run_id)  # one writer at a time: nothing to hold

    def find(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        run = self._find(dag_id, logical_date)
        return _detached_run(run) if run is not None else None

    def _find(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        for run in self._runs.values():
            if run.dag_id == dag_id and run.logical_date == logical_date:
                return run
        return None

    def list(
        self, dag_id: str | None = None, states: Iterable[DagRunState] | None = None
    ) -> list[DagRunRecord]:
        wanted = set(states) if states is not None else None
        runs = [
            _detached_run(r) for r in self._runs.values()
            if (dag_id is None or r.dag_id == dag_id) and (wanted is None or r.state in wanted)
        ]
        return sorted(runs, key=lambda r: (r.dag_id, r.logical_date))

    def previous(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        earlier = [r for r in self._runs.values()
                   if r.dag_id == dag_id and r.logical_date < logical_date]
        if not earlier:
            return None
        return _detached_run(max(earlier, key=lambda r: r.logical_date))

    def latest_scheduled(self, dag_ids: Collection[str]) -> dict[str, DagRunRecord]:
        stored = [dag_id for dag_id in dag_ids if self.dag_stored(dag_id)]
        latest = latest_scheduled_runs(self._runs.values(), stored)
        return {dag_id: _detached_run(run) for dag_id, run in latest.items()}

    def set_state(self, run: DagRunRecord, state: DagRunState, **fields: Any) -> DagRunRecord:
        what = f"run {run.run_id!r} of DAG {run.dag_id!r}"
        new = check_run_transition(run.state, state, what)
        _check_changes(what, _RUN_FIELDS, _RUN_KEY_FIELDS, fields)
        key = (run.dag_id, run.run_id)
        stored = self._runs.get(key)
        if stored is None or stored.state != run.state:
            raise _stale(what, run.state, stored.state if stored else None)
        self._remember(self._runs, key)
        changed = _detached_run(replace(stored, state=new, **fields))
        self._runs[key] = changed
        return _detached_run(changed)

    def delete(self, dag_id: str, run_id: str) -> bool:
        if (dag_id, run_id) not in self._runs:
            return False
        self._remember(self._runs, (dag_id, run_id))
        del self._runs[(dag_id, run_id)]
        for forget in self.cascade:
            forget(dag_id, run_id)
        return True


class MemoryTaskInstanceRepo(JournaledRepo):
    """Task instances in dicts, indexed by key and by run."""

    def __init__(self, journal: Journal | None = None,
                 runs: MemoryRunRepo | None = None) -> None:
        super().__init__(journal)
        self._runs = runs
        self._by_key: dict[TaskInstanceKey, TaskInstanceRecord] = {}
        self._by_run: dict[tuple[str, str], dict[TaskInstanceKey, TaskInstanceRecord]] = (
            defaultdict(dict)
        )
        self._tries: dict[TaskInstanceKey, list[TaskTryRecord]] = defaultdict(list)

    def add_many(self, instances: Iterable[TaskInstanceRecord]) -> None:
        batch = list(instances)
        keys = {ti.key for ti in batch}
        if len(keys) != len(batch) or any(key in self._by_key for key in keys):
            taken = next(ti.key for i, ti in enumerate(batch)
                         if ti.key in self._by_key or ti.key in {t.key for t in batch[:i]})
            raise ConflictError(f"task instance {taken} already exists")
        for ti in batch:
            self._put(_detached_ti(ti))

    def add_to_new_runs(self, instances: Iterable[TaskInstanceRecord]) -> None:
        self.add_many(instances)

    def _put(self, ti: TaskInstanceRecord) -> None:
        key, run_key = ti.key, (ti.dag_id, ti.run_id)
        self._remember(self._by_key, key)
        if run_key not in self._by_run:
            self._remember(self._by_run, run_key)
        in_run = self._by_run[run_key]
        self._remember(in_run, key)
        self._by_key[key] = ti
        in_run[key] = ti

    def get(self, key: TaskInstanceKey) -> TaskInstanceRecord | None:
        ti = self._by_key.get(key)
        return _detached_ti(ti) if ti is not None else None

    def for_run(
        self, dag_id: str, run_id: str, task_ids: Collection[str] | None = None
    ) -> list[TaskInstanceRecord]:
        instances = self._by_run.get((dag_id, run_id), {}).values()
        wanted = None if task_ids is None else set(task_ids)
        found = [_detached_ti(ti) for ti in instances if wanted is None or ti.task_id in wanted]
        found.sort(key=lambda ti: (ti.task_id, ti.map_index))
        return found

    def has_unfinished(self, dag_id: str, run_id: str) -> bool:
        return any(
            ti.state not in FINISHED_TASK_STATES
            for ti in self._by_run.get((dag_id, run_id), {}).values()
        )

    def for_run_holding_run(
        self, dag_id: str, run_id: str, task_ids: Collection[str]
    ) -> tuple[list[TaskInstanceRecord], DagRunRecord | None]:
        run = self._runs.lock(dag_id, run_id) if self._runs is not None else None
        return self.for_run(dag_id, run_id, task_ids), run

    def lock_dispatch(self) -> bool:
        return True  # one process: its transactions never run side by side

    def in_states(self, states: Iterable[TaskState]) -> list[TaskInstanceRecord]:
        wanted = set(states)
        found = [_detached_ti(ti) for ti in self._by_key.values() if ti.state in wanted]
        found.sort(key=lambda ti: (ti.dag_id, ti.run_id, ti.task_id, ti.map_index))
        return found

    def dispatch_view(
        self, active_states: Iterable[TaskState], limit: int
    ) -> tuple[list[TaskInstanceRecord], list[TaskInstanceRecord]] | None:
        return self.in_states(active_states), self.dispatchable(limit)

    def dispatchable(self, limit: int, offset: int = 0) -> list[TaskInstanceRecord]:
        scheduled = self.in_states([TaskState.SCHEDULED])
        scheduled.sort(key=lambda ti: (-ti.priority_weight, ti.dag_id, ti.run_id, ti.task_id,
                                       ti.map_index))
        return scheduled[offset:offset + limit]

    def set_state(
        self, ti: TaskInstanceRecord, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord:
        what = f"task {ti.label!r} of run {ti.run_id!r}"
        new = check_transition(ti.state, state, what)
        fields = suspension_reset(ti, new, fields)
        _check_changes(what, _TI_FIELDS, _TI_KEY_FIELDS, fields)
        stored = self._by_key.get(ti.key)
        if stored is None or stored.state != ti.state:
            raise _stale(what, ti.state, stored.state if stored else None)
        return self._write(stored, new, fields)

    def claim(
        self, ti: TaskInstanceRecord, expected: TaskState, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord | None:
        what = f"task {ti.label!r} of run {ti.run_id!r}"
        stored = self._by_key.get(ti.key)
        try:
            new = check_transition(expected, state, what)
        except InvalidTransition:
            if stored is not None and stored.state == TaskState(expected):
                raise
            return None
        fields = suspension_reset(ti, new, fields)
        _check_changes(what, _TI_FIELDS, _TI_KEY_FIELDS, fields)
        if stored is None or stored.state != TaskState(expected):
            return None
        return self._write(stored, new, fields)

    def _write(
        self, stored: TaskInstanceRecord, state: TaskState, fields: dict[str, Any]
    ) -> TaskInstanceRecord:
        changed = _detached_ti(replace(stored, state=state, **fields))
        self._put(changed)
        return _detached_ti(changed)

    def mark_running(self, key: TaskInstanceKey, try_number: int, start_date: datetime,
                     hostname: str | None, pid: int | None) -> bool:
        stored = self._by_key.get(key)
        if stored is None or stored.state is not TaskState.QUEUED or (
            stored.try_number != try_number
        ):
            return False
        self._write(stored, TaskState.RUNNING,
                    {"start_date": start_date, "hostname": hostname, "pid": pid})
        return True

    def heartbeat(self, keys: Iterable[TaskInstanceKey], now: datetime) -> None:
        for key in keys:
            ti = self._by_key.get(key)
            if ti is not None:
                self._put(replace(ti, heartbeat_at=now))

    def expand(self, placeholder: TaskInstanceRecord, count: int) -> list[TaskInstanceRecord]:
        if placeholder.map_index != -1:
            raise ConflictError(f"task instance {placeholder.key} is already expanded")
        if count < 1:
            raise ValueError(
                f"task instance {placeholder.key}: cannot expand to {count} instances; "
                "an empty expansion is skipped, not expanded"
            )
        stored = self._by_key.get(placeholder.key)
        if stored is None:
            raise StaleRecordError(f"task instance {placeholder.key} is not in the store")
        in_run = self._by_run[(placeholder.dag_id, placeholder.run_id)]
        self._remember(self._by_key, placeholder.key)
        self._remember(in_run, placeholder.key)
        del self._by_key[placeholder.key]
        del in_run[placeholder.key]
        created = [replace(stored, map_index=0)] + [
            _detached_ti(replace(placeholder, map_index=i)) for i in range(1, count)
        ]
        for ti in created:
            self._put(ti)
        return [_detached_ti(ti) for ti in created]

    def record_try(self, record: TaskTryRecord) -> None:
        self._remember(self._tries, record.key, copy=True)
        self._tries[record.key].append(record)

    def end_try(
        self, ti: TaskInstanceRecord, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord:
        ended = self.set_state(ti, state, **fields)
        self.record_try(try_record_of(ended))
        return ended

    def tries(self, key: TaskInstanceKey) -> list[TaskTryRecord]:
        return list(self._tries.get(key, []))

    def forget_run(self, dag_id: str, run_id: str) -> None:
        """Drop a deleted run's instances and their tries."""
        self._remember(self._by_run, (dag_id, run_id))
        for key in self._by_run.pop((dag_id, run_id), {}):
            self._remember(self._by_key, key)
            self._remember(self._tries, key)
            self._by_key.pop(key, None)
            self._tries.pop(key, None)
