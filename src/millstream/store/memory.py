"""The in-memory store: the repository interfaces over dicts, for dag.test() and unit tests."""

from __future__ import annotations

import builtins
import contextlib
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from millstream.exceptions import ConflictError, InvalidInputError, NotFoundError
from millstream.model.states import (
    FINISHED_TASK_STATES,
    DagRunState,
    TaskState,
    check_run_transition,
    check_transition,
)
from millstream.store.memory_assets import MemoryAssetRepo
from millstream.store.memory_auth import memory_auth_repos
from millstream.store.memory_browse import MemoryBrowseRepo
from millstream.store.memory_jobs import MemoryJobRepo
from millstream.store.memory_listing import MemoryListingRepo
from millstream.store.memory_resume import latest_scheduled_runs
from millstream.store.memory_secrets import MemoryConnectionRepo, MemoryVariableRepo
from millstream.store.memory_signals import MemoryChangeSignalRepo
from millstream.store.memory_triggers import MemoryTaskRescheduleRepo, MemoryTriggerRepo
from millstream.store.records import (
    AuditRecord,
    DagRecord,
    DagRunRecord,
    ImportErrorRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)
from millstream.store.trigger_records import suspension_reset

DEFAULT_POOL_SLOTS = 128


class MemoryRunRepo:
    """DAG runs in a dict keyed by (dag_id, run_id)."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], DagRunRecord] = {}
        self.cascade: list[Callable[[str, str], None]] = []  # what goes with a deleted run

    def add(self, run: DagRunRecord) -> None:
        key = (run.dag_id, run.run_id)
        if key in self._runs:
            raise ConflictError(f"DAG {run.dag_id!r} already has a run {run.run_id!r}")
        if self.find(run.dag_id, run.logical_date) is not None:
            raise ConflictError(
                f"DAG {run.dag_id!r} already has a run for logical date "
                f"{run.logical_date.isoformat()}"
            )
        self._runs[key] = run

    def get(self, dag_id: str, run_id: str) -> DagRunRecord | None:
        return self._runs.get((dag_id, run_id))

    def find(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        for run in self._runs.values():
            if run.dag_id == dag_id and run.logical_date == logical_date:
                return run
        return None

    def list(
        self, dag_id: str | None = None, states: Iterable[DagRunState] | None = None
    ) -> list[DagRunRecord]:
        wanted = set(states) if states is not None else None
        runs = [
            r for r in self._runs.values()
            if (dag_id is None or r.dag_id == dag_id) and (wanted is None or r.state in wanted)
        ]
        return sorted(runs, key=lambda r: (r.dag_id, r.logical_date))

    def previous(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        earlier = [r for r in self.list(dag_id) if r.logical_date < logical_date]
        return earlier[-1] if earlier else None

    def latest_scheduled(self, dag_ids: Collection[str]) -> dict[str, DagRunRecord]:
        return latest_scheduled_runs(self._runs.values(), dag_ids)

    def set_state(self, run: DagRunRecord, state: DagRunState, **fields: Any) -> None:
        run.state = check_run_transition(
            run.state, state, f"run {run.run_id!r} of DAG {run.dag_id!r}"
        )
        for name, value in fields.items():
            setattr(run, name, value)

    def delete(self, dag_id: str, run_id: str) -> bool:
        if self._runs.pop((dag_id, run_id), None) is None:
            return False
        for forget in self.cascade:
            forget(dag_id, run_id)
        return True


class MemoryTaskInstanceRepo:
    """Task instances in dicts, indexed by key and by run."""

    def __init__(self) -> None:
        self._by_key: dict[TaskInstanceKey, TaskInstanceRecord] = {}
        self._by_run: dict[tuple[str, str], dict[TaskInstanceKey, TaskInstanceRecord]] = (
            defaultdict(dict)
        )
        self._tries: dict[TaskInstanceKey, list[TaskTryRecord]] = defaultdict(list)

    def add_many(self, instances: Iterable[TaskInstanceRecord]) -> None:
        for ti in instances:
            if ti.key in self._by_key:
                raise ConflictError(f"task instance {ti.key} already exists")
            self._by_key[ti.key] = ti
            self._by_run[(ti.dag_id, ti.run_id)][ti.key] = ti

    def get(self, key: TaskInstanceKey) -> TaskInstanceRecord | None:
        return self._by_key.get(key)

    def for_run(
        self, dag_id: str, run_id: str, task_ids: Collection[str] | None = None
    ) -> list[TaskInstanceRecord]:
        instances = self._by_run.get((dag_id, run_id), {}).values()
        if task_ids is None:
            return list(instances)
        wanted = set(task_ids)
        return [ti for ti in instances if ti.task_id in wanted]

    def unfinished_count(self, dag_id: str, run_id: str) -> int:
        return sum(
            ti.state not in FINISHED_TASK_STATES
            for ti in self._by_run.get((dag_id, run_id), {}).values()
        )

    def in_states(self, states: Iterable[TaskState]) -> list[TaskInstanceRecord]:
        wanted = set(states)
        return [ti for ti in self._by_key.values() if ti.state in wanted]

    def dispatchable(self, limit: int, offset: int = 0) -> list[TaskInstanceRecord]:
        scheduled = self.in_states([TaskState.SCHEDULED])
        scheduled.sort(key=lambda ti: (-ti.priority_weight, ti.dag_id, ti.run_id, ti.task_id,
                                       ti.map_index))
        return scheduled[offset:offset + limit]

    def set_state(self, ti: TaskInstanceRecord, state: TaskState, **fields: Any) -> None:
        new = check_transition(ti.state, state, f"task {ti.label!r} of run {ti.run_id!r}")
        fields = suspension_reset(ti, new, fields)
        ti.state = new
        for name, value in fields.items():
            setattr(ti, name, value)

    def claim(
        self, ti: TaskInstanceRecord, expected: TaskState, state: TaskState, **fields: Any
    ) -> bool:
        stored = self._by_key.get(ti.key)
        if stored is None or stored.state != TaskState(expected):
            return False
        self.set_state(stored, state, **fields)
        return True

    def heartbeat(self, keys: Iterable[TaskInstanceKey], now: datetime) -> None:
        for key in keys:
            ti = self._by_key.get(key)
            if ti is not None:
                ti.heartbeat_at = now

    def expand(self, placeholder: TaskInstanceRecord, count: int) -> list[TaskInstanceRecord]:
        if placeholder.map_index != -1:
            raise ConflictError(f"task instance {placeholder.key} is already expanded")
        if count < 1:
            raise ValueError(
                f"task instance {placeholder.key}: cannot expand to {count} instances; "
                "an empty expansion is skipped, not expanded"
            )
        run_index = self._by_run[(placeholder.dag_id, placeholder.run_id)]
        del self._by_key[placeholder.key]
        del run_index[placeholder.key]
        placeholder.map_index = 0
        created = [placeholder] + [replace(placeholder, map_index=i) for i in range(1, count)]
        self.add_many(created)
        return created

    def record_try(self, record: TaskTryRecord) -> None:
        self._tries[record.key].append(record)

    def tries(self, key: TaskInstanceKey) -> list[TaskTryRecord]:
        return list(self._tries.get(key, []))

    def forget_run(self, dag_id: str, run_id: str) -> None:
        """Drop a deleted run's instances and their tries."""
        for key in self._by_run.pop((dag_id, run_id), {}):
            self._by_key.pop(key, None)
            self._tries.pop(key, None)


class MemoryXComRepo:
    """XCom JSON texts keyed by task instance and XCom key."""

    def __init__(self) -> None:
        self._values: dict[TaskInstanceKey, dict[str, str]] = {}

    def set_many(self, key: TaskInstanceKey, values: Iterable[tuple[str, str]]) -> None:
        self._values.setdefault(key, {}).update(values)

    def get_xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str
    ) -> str | None:
        return self._values.get(TaskInstanceKey(dag_id, run_id, task_id, map_index), {}).get(key)

    def get_mapped_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[str]:
        found = [
            (ti_key.map_index, values[key])
            for ti_key, values in self._values.items()
            if ti_key.dag_id == dag_id and ti_key.run_id == run_id and ti_key.task_id == task_id
            and ti_key.map_index >= 0 and key in values
        ]
        return [text for _, text in sorted(found)]

    def clear(self, key: TaskInstanceKey) -> None:
        self._values.pop(key, None)

    def entries(self, key: TaskInstanceKey) -> list[tuple[str, str]]:
        return sorted(self._values.get(key, {}).items())

    def forget_run(self, dag_id: str, run_id: str) -> None:
        """Drop a deleted run's XComs."""
        for key in [k for k in self._values if (k.dag_id, k.run_id) == (dag_id, run_id)]:
            del self._values[key]


class MemoryPoolRepo:
    """Pools in a dict; ``open_pools`` makes unknown pools exist with the default size."""

    def __init__(self, open_pools: bool = False) -> None:
        self._pools: dict[str, int] = {"default_pool": DEFAULT_POOL_SLOTS}
        self._descriptions: dict[str, str] = {"default_pool": "Default pool"}
        self._open = open_pools

    def slots(self, name: str) -> int | None:
        if name in self._pools:
            return self._pools[name]
        return DEFAULT_POOL_SLOTS if self._open else None

    def set(self, name: str, slots: int, description: str = "") -> None:
        if slots < 0:
            raise InvalidInputError(f"pool {name!r}: slots must be >= 0, got {slots}")
        self._pools[name] = slots
        self._descriptions[name] = description

    def list(self) -> list[tuple[str, int, str]]:
        return [(name, self._pools[name], self._descriptions.get(name, ""))
                for name in sorted(self._pools)]

    def delete(self, name: str) -> bool:
        if name == "default_pool":
            raise ConflictError("the default pool 'default_pool' cannot be deleted")
        self._descriptions.pop(name, None)
        return self._pools.pop(name, None) is not None


class MemoryDagRepo:
    """DAG records and their serialized versions in dicts."""

    def __init__(self) -> None:
        self._dags: dict[str, DagRecord] = {}
        self._versions: dict[tuple[str, str], str] = {}

    def upsert(
        self, dag_id: str, fileloc: str | None, structure_json: str, version: str,
        now: datetime, paused_on_create: bool = False,
    ) -> DagRecord:
        record = self._dags.get(dag_id)
        if record is None:
            record = DagRecord(dag_id, fileloc, is_paused=paused_on_create)
            self._dags[dag_id] = record
        record.fileloc = fileloc
        record.is_active = True
        record.latest_version = version
        record.last_parsed = now
        self._versions.setdefault((dag_id, version), structure_json)
        return record

    def get(self, dag_id: str) -> DagRecord | None:
        return self._dags.get(dag_id)

    def list(self, active_only: bool = True) -> list[DagRecord]:
        return sorted(
            (d for d in self._dags.values() if d.is_active or not active_only),
            key=lambda d: d.dag_id,
        )

    def set_paused(self, dag_id: str, paused: bool) -> None:
        record = self._dags.get(dag_id)
        if record is None:
            raise NotFoundError(f"no DAG {dag_id!r}")
        record.is_paused = paused

    def structure(self, dag_id: str, version: str | None = None) -> str | None:
        record = self._dags.get(dag_id)
        if record is None:
            return None
        return self._versions.get((dag_id, version or record.latest_version or ""))

    def deactivate_missing(
        self, present: Iterable[str], filelocs: Iterable[str]
    ) -> builtins.list[str]:
        keep, files = set(present), set(filelocs)
        gone = [
            d.dag_id for d in self._dags.values()
            if d.is_active and d.fileloc in files and d.dag_id not in keep
        ]
        for dag_id in gone:
            self._dags[dag_id].is_active = False
        return gone


class MemoryImportErrorRepo:
    """The latest import error of each file."""

    def __init__(self) -> None:
        self._errors: dict[str, ImportErrorRecord] = {}

    def set(self, filename: str, traceback: str | None, now: datetime) -> None:
        if traceback is None:
            self._errors.pop(filename, None)
        else:
            self._errors[filename] = ImportErrorRecord(filename, traceback, now)

    def list(self) -> list[ImportErrorRecord]:
        return sorted(self._errors.values(), key=lambda e: e.filename)


class MemoryAuditRepo:
    """User actions in a list, newest last."""

    def __init__(self) -> None:
        self._records: list[AuditRecord] = []

    def add(self, record: AuditRecord) -> None:
        self._records.append(record)

    def list(self, dag_id: str | None = None, limit: int = 100) -> list[AuditRecord]:
        found = [r for r in self._records if dag_id is None or r.dag_id == dag_id]
        return list(reversed(found))[:limit]


class MemoryStore:
    """Every repository in memory; transactions are no-ops since nothing is shared."""

    def __init__(self, open_pools: bool = False) -> None:
        self.dags = MemoryDagRepo()
        self.import_errors = MemoryImportErrorRepo()
        self.audit = MemoryAuditRepo()
        self.runs = MemoryRunRepo()
        self.task_instances = MemoryTaskInstanceRepo()
        self.xcoms = MemoryXComRepo()
        self.pools = MemoryPoolRepo(open_pools=open_pools)
        self.runs.cascade = [self.task_instances.forget_run, self.xcoms.forget_run]
        self.users, self.api_tokens, self.login_sessions = memory_auth_repos()
        self.jobs = MemoryJobRepo()
        self.variables, self.connections = MemoryVariableRepo(), MemoryConnectionRepo()
        self.browse = MemoryBrowseRepo(self)
        self.listing = MemoryListingRepo(self)
        self.assets = MemoryAssetRepo(self.dags)
        self.runs.cascade.append(self.assets.forget_run)
        self.triggers = MemoryTriggerRepo(self.task_instances)
        self.task_reschedules = MemoryTaskRescheduleRepo()
        self.runs.cascade.append(self.task_reschedules.forget_run)
        self.signals = MemoryChangeSignalRepo()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield
