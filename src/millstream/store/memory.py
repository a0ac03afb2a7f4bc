"""The in-memory store: the repository interfaces over dicts, for dag.test() and unit tests.

It keeps the SQL store's contract (see memory_journal.py and memory_runs.py): real
transactions, immutable records that never alias the store, and repositories that refuse
calls made outside ``store.transaction()``.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime

from millstream.exceptions import ConflictError, InvalidInputError, NotFoundError
from millstream.store.change_signal import ChangeSignalRepo
from millstream.store.deadline_records import DeadlineMissRepo
from millstream.store.interfaces import (
    ApiTokenRepo,
    AssetRepo,
    AuditRepo,
    BrowseRepo,
    ConnectionRepo,
    DagRepo,
    ImportErrorRepo,
    JobRepo,
    ListingRepo,
    LoginSessionRepo,
    PoolRepo,
    RunRepo,
    TaskInstanceRepo,
    TaskRescheduleRepo,
    TriggerRepo,
    UserRepo,
    VariableRepo,
    XComRepo,
)
from millstream.store.memory_assets import MemoryAssetRepo
from millstream.store.memory_auth import memory_auth_repos
from millstream.store.memory_browse import MemoryBrowseRepo
from millstream.store.memory_deadlines import MemoryDeadlineMissRepo
from millstream.store.memory_jobs import MemoryJobRepo
from millstream.store.memory_journal import Journal, JournaledRepo, guarded
from millstream.store.memory_listing import MemoryListingRepo
from millstream.store.memory_overview import MemoryOverviewRepo
from millstream.store.memory_runs import MemoryRunRepo, MemoryTaskInstanceRepo
from millstream.store.memory_secrets import MemoryConnectionRepo, MemoryVariableRepo
from millstream.store.memory_signals import MemoryChangeSignalRepo
from millstream.store.memory_state_stores import MemoryStateStoreRepo
from millstream.store.memory_triggers import MemoryTaskRescheduleRepo, MemoryTriggerRepo
from millstream.store.overview import OverviewRepo
from millstream.store.records import (
    DUE_AT_ONCE,
    AuditRecord,
    DagRecord,
    ImportErrorRecord,
    TaskInstanceKey,
)
from millstream.store.state_store_records import StateStoreRepo

DEFAULT_POOL_SLOTS = 128

__all__ = ["DEFAULT_POOL_SLOTS", "MemoryRunRepo", "MemoryStore", "MemoryTaskInstanceRepo",
           "MemoryXComRepo"]


class MemoryXComRepo(JournaledRepo):
    """XCom JSON texts keyed by task instance and XCom key."""

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._values: dict[TaskInstanceKey, dict[str, str]] = {}

    def set_many(self, key: TaskInstanceKey, values: Iterable[tuple[str, str]]) -> None:
        self._remember(self._values, key, copy=True)
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
        self._remember(self._values, key)
        self._values.pop(key, None)

    def entries(self, key: TaskInstanceKey) -> list[tuple[str, str]]:
        return sorted(self._values.get(key, {}).items())

    def forget_run(self, dag_id: str, run_id: str) -> None:
        """Drop a deleted run's XComs."""
        for key in [k for k in self._values if (k.dag_id, k.run_id) == (dag_id, run_id)]:
            self._remember(self._values, key)
            del self._values[key]


class MemoryPoolRepo(JournaledRepo):
    """Pools in a dict; ``open_pools`` makes unknown pools exist with the default size."""

    STATE = ("_pools", "_descriptions")

    def __init__(self, open_pools: bool = False, journal: Journal | None = None) -> None:
        super().__init__(journal)
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
        self._changing()
        self._pools[name] = slots
        self._descriptions[name] = description

    def list(self) -> list[tuple[str, int, str]]:
        return [(name, self._pools[name], self._descriptions.get(name, ""))
                for name in sorted(self._pools)]

    def delete(self, name: str) -> bool:
        if name == "default_pool":
            raise ConflictError("the default pool 'default_pool' cannot be deleted")
        self._changing()
        self._descriptions.pop(name, None)
        return self._pools.pop(name, None) is not None


class MemoryDagRepo(JournaledRepo):
    """DAG records and their serialized versions in dicts."""

    STATE = ("_dags", "_versions", "_next_due")

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._dags: dict[str, DagRecord] = {}
        self._versions: dict[tuple[str, str], str] = {}
        self._next_due: dict[str, datetime | None] = {}

    def upsert(
        self, dag_id: str, fileloc: str | None, structure_json: str, version: str,
        now: datetime, paused_on_create: bool = False,
    ) -> DagRecord:
        self._changing()
        known = self._dags.get(dag_id) or DagRecord(dag_id, is_paused=paused_on_create)
        if known.latest_version != version or not known.is_active or dag_id not in self._dags:
            self._next_due[dag_id] = DUE_AT_ONCE
        record = replace(known, fileloc=fileloc, is_active=True, latest_version=version,
                         last_parsed=now)
        self._dags[dag_id] = record
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
        self._changing()
        self._dags[dag_id] = replace(record, is_paused=paused)
        self._next_due[dag_id] = None if paused else DUE_AT_ONCE

    def due(self, now: datetime) -> builtins.list[str]:
        return sorted(
            dag_id for dag_id, moment in self._next_due.items()
            if moment is not None and moment <= now
            and self._dags[dag_id].is_active and not self._dags[dag_id].is_paused
        )

    def next_due_after(self, now: datetime) -> datetime | None:
        return min((moment for dag_id, moment in self._next_due.items()
                    if moment is not None and moment > now
                    and self._dags[dag_id].is_active and not self._dags[dag_id].is_paused),
                   default=None)

    def set_next_due(self, dag_id: str, moment: datetime | None) -> None:
        if dag_id in self._dags:
            self._changing()
            self._next_due[dag_id] = moment

    def set_next_due_many(self, moments: Mapping[str, datetime | None]) -> None:
        for dag_id, moment in moments.items():
            self.set_next_due(dag_id, moment)

    def mark_due(self, dag_id: str, run_id: str = "") -> None:
        """A run of the DAG was deleted: its schedule's resume point may have moved."""
        self.set_next_due(dag_id, DUE_AT_ONCE)

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
        if gone:
            self._changing()
        for dag_id in gone:
            self._dags[dag_id] = replace(self._dags[dag_id], is_active=False)
            self._next_due[dag_id] = None
        return gone


class MemoryImportErrorRepo(JournaledRepo):
    """The latest import error of each file."""

    STATE = ("_errors",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._errors: dict[str, ImportErrorRecord] = {}

    def set(self, filename: str, traceback: str | None, now: datetime) -> None:
        self._changing()
        if traceback is None:
            self._errors.pop(filename, None)
        else:
            self._errors[filename] = ImportErrorRecord(filename, traceback, now)

    def list(self) -> list[ImportErrorRecord]:
        return sorted(self._errors.values(), key=lambda e: e.filename)


class MemoryAuditRepo(JournaledRepo):
    """User actions in a list, newest last."""

    STATE = ("_records",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._records: list[AuditRecord] = []

    def add(self, record: AuditRecord) -> None:
        self._changing()
        self._records.append(replace(record, extra=copy.deepcopy(record.extra)))

    def list(self, dag_id: str | None = None, limit: int = 100) -> list[AuditRecord]:
        found = [r for r in self._records if dag_id is None or r.dag_id == dag_id]
        return [replace(r, extra=copy.deepcopy(r.extra)) for r in reversed(found)][:limit]


class MemoryStore:
    """Every repository in memory, behind one journal that makes ``transaction()`` real.

    The attributes are the guarded repositories (a call outside a transaction raises
    StoreUsageError); repositories reach each other directly, inside the caller's
    transaction.
    """

    def __init__(self, open_pools: bool = False) -> None:
        journal = self._journal = Journal()
        dags = MemoryDagRepo(journal)
        runs = MemoryRunRepo(journal)
        task_instances = MemoryTaskInstanceRepo(journal, runs)
        xcoms = MemoryXComRepo(journal)
        assets = MemoryAssetRepo(dags, journal)
        reschedules = MemoryTaskRescheduleRepo(journal)
        state_stores = MemoryStateStoreRepo(journal)
        runs.dag_stored = lambda dag_id: dags.get(dag_id) is not None
        runs.cascade = [task_instances.forget_run, xcoms.forget_run, assets.forget_run,
                        reschedules.forget_run, state_stores.forget_run, dags.mark_due]
        users, api_tokens, login_sessions = memory_auth_repos(journal)
        variables, connections = MemoryVariableRepo(journal), MemoryConnectionRepo(journal)
        # Typed as the interfaces, so that the checker holds each repo to its Protocol.
        self.dags: DagRepo = guarded(dags, journal)
        self.import_errors: ImportErrorRepo = guarded(MemoryImportErrorRepo(journal), journal)
        self.audit: AuditRepo = guarded(MemoryAuditRepo(journal), journal)
        self.runs: RunRepo = guarded(runs, journal)
        self.task_instances: TaskInstanceRepo = guarded(task_instances, journal)
        self.xcoms: XComRepo = guarded(xcoms, journal)
        self.pools: PoolRepo = guarded(MemoryPoolRepo(open_pools, journal), journal)
        self.users: UserRepo = guarded(users, journal)
        self.api_tokens: ApiTokenRepo = guarded(api_tokens, journal)
        self.login_sessions: LoginSessionRepo = guarded(login_sessions, journal)
        self.jobs: JobRepo = guarded(MemoryJobRepo(journal), journal)
        self.variables: VariableRepo = guarded(variables, journal)
        self.connections: ConnectionRepo = guarded(connections, journal)
        self.browse: BrowseRepo = guarded(MemoryBrowseRepo(runs, task_instances, dags), journal)
        self.listing: ListingRepo = guarded(
            MemoryListingRepo(runs, task_instances, xcoms, dags), journal
        )
        self.assets: AssetRepo = guarded(assets, journal)
        self.triggers: TriggerRepo = guarded(
            MemoryTriggerRepo(task_instances, journal), journal
        )
        self.task_reschedules: TaskRescheduleRepo = guarded(reschedules, journal)
        self.signals: ChangeSignalRepo = guarded(MemoryChangeSignalRepo(journal), journal)
        self.overview: OverviewRepo = guarded(MemoryOverviewRepo(runs, task_instances), journal)
        self.deadline_misses: DeadlineMissRepo = guarded(MemoryDeadlineMissRepo(journal), journal)
        self.state_stores: StateStoreRepo = guarded(state_stores, journal)

    @property
    def in_transaction(self) -> bool:
        return self._journal.in_transaction

    def transaction(self, read_only: bool = False) -> AbstractContextManager[None]:
        """Commit at the end, roll back everything if the block raises; nested calls join.
        ``read_only``: a write in it raises StoreUsageError."""
        return self._journal.transaction(read_only)
