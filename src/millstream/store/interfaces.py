"""The repository interfaces every store implements (in-memory now, SQL in the durable engine).

Repositories never commit: the caller owns the transaction (``store.transaction()``), and a
repository used outside one raises :class:`~millstream.exceptions.StoreUsageError`. Records
are immutable: what a repository returns never changes the store, and a method that changes
a record returns the new one.
Every state change goes through :func:`millstream.model.states.check_transition`.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from millstream.model.states import DagRunState, TaskState
from millstream.store.account_interfaces import (
    ApiTokenRepo,
    ConnectionRepo,
    LoginSessionRepo,
    UserRepo,
    VariableRepo,
)
from millstream.store.asset_records import (
    AssetEventRecord,
    AssetQueueRecord,
    AssetRecord,
    AssetReferenceRecord,
)
from millstream.store.change_signal import ChangeSignalRepo
from millstream.store.deadline_records import DeadlineMissRepo
from millstream.store.job_records import JobRecord
from millstream.store.listing_records import PageRecord
from millstream.store.overview import OverviewRepo
from millstream.store.records import (
    AuditRecord,
    DagRecord,
    DagRunRecord,
    ImportErrorRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)
from millstream.store.run_creation_interfaces import DueDagRepo, NewInstanceRepo, NewRunRepo
from millstream.store.state_store_records import StateStoreRepo
from millstream.store.trigger_records import TaskRescheduleRecord, TriggerRecord


class RunRepo(NewRunRepo, Protocol):
    """DAG runs."""

    def add(self, run: DagRunRecord) -> None: ...

    def get(self, dag_id: str, run_id: str) -> DagRunRecord | None: ...

    def find(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None: ...

    def list(self, dag_id: str | None = None,
             states: Iterable[DagRunState] | None = None) -> list[DagRunRecord]: ...

    def previous(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        """The run of the same DAG with the latest logical date before ``logical_date``."""
        ...

    def latest_scheduled(self, dag_ids: Collection[str]) -> dict[str, DagRunRecord]:
        """Each stored DAG's latest scheduled run (its schedule's resume point), found by
        index; DAGs the store does not hold, and DAGs with no scheduled run, are left out."""
        ...

    def set_state(self, run: DagRunRecord, state: DagRunState, **fields: Any) -> DagRunRecord:
        """Apply a checked transition and update ``fields`` in the same write; returns the
        changed record. A compare-and-set on the state ``run`` holds: if the store has moved
        on, :class:`~millstream.exceptions.StaleRecordError` is raised and nothing changes."""
        ...

    def delete(self, dag_id: str, run_id: str) -> bool:
        """Remove a run with its task instances, tries and XComs; False if there was none."""
        ...

    def lock(self, dag_id: str, run_id: str) -> DagRunRecord | None:
        """The run as it is now, held by this transaction until it ends so that no other
        transaction decides the run's end meanwhile; None when another transaction holds
        it (never waited for) or there is no such run."""
        ...


class TaskInstanceRepo(NewInstanceRepo, Protocol):
    """Task instances and the history of their tries."""

    def add_many(self, instances: Iterable[TaskInstanceRecord]) -> None: ...

    def get(self, key: TaskInstanceKey) -> TaskInstanceRecord | None: ...

    def for_run(self, dag_id: str, run_id: str,
                task_ids: Collection[str] | None = None) -> list[TaskInstanceRecord]:
        """The run's instances, or only those of ``task_ids``."""
        ...

    def for_run_holding_run(
        self, dag_id: str, run_id: str, task_ids: Collection[str]
    ) -> tuple[list[TaskInstanceRecord], DagRunRecord | None]:
        """:meth:`for_run` of ``task_ids``, and the run as :meth:`RunRepo.lock` gives it
        (held by this transaction; None when another holds it or it is gone), in one
        statement where the database can."""
        ...

    def has_unfinished(self, dag_id: str, run_id: str) -> bool:
        """Whether any instance of the run has not finished; found by index, so its cost
        does not grow with the run's finished instances."""
        ...

    def in_states(self, states: Iterable[TaskState]) -> list[TaskInstanceRecord]: ...

    def dispatchable(self, limit: int, offset: int = 0) -> list[TaskInstanceRecord]:
        """Up to ``limit`` scheduled instances, highest priority first, locked for this
        transaction where the database can lock rows (so two schedulers never share one)."""
        ...

    def lock_dispatch(self) -> bool:
        """Take the dispatch lock until this transaction ends, without waiting; False if
        another transaction holds it.

        Whoever holds it counts the slots in use (pools, max_active_tasks, max_active_runs)
        and claims within them with no other scheduler claiming meanwhile, so limits hold
        across schedulers. Never waiting means never a deadlock with the rows the caller
        already wrote: a caller that did not get it tries again in a moment.
        """
        ...

    def dispatch_view(
        self, active_states: Iterable[TaskState], limit: int
    ) -> tuple[list[TaskInstanceRecord], list[TaskInstanceRecord]] | None:
        """What a dispatch starts from: take the dispatch lock (:meth:`lock_dispatch`),
        then read the instances in ``active_states`` (:meth:`in_states`) and the first
        ``limit`` dispatchable ones (:meth:`dispatchable`). None, with nothing read or
        locked, if another transaction holds the lock."""
        ...

    def set_state(
        self, ti: TaskInstanceRecord, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord:
        """Apply a checked transition and update ``fields`` in the same write; returns the
        changed record. A compare-and-set on the state ``ti`` holds: if the store has moved
        on, :class:`~millstream.exceptions.StaleRecordError` is raised and nothing changes."""
        ...

    def claim(
        self, ti: TaskInstanceRecord, expected: TaskState, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord | None:
        """Compare-and-set: change the state only if it is still ``expected``; returns the
        changed record, or None if the instance had moved on (someone else claimed it)."""
        ...

    def mark_running(self, key: TaskInstanceKey, try_number: int, start_date: datetime,
                     hostname: str | None, pid: int | None) -> bool:
        """queued -> running for try ``try_number`` (a try's start), in one compare-and-set on
        the state and the try number; False if the instance had moved on."""
        ...

    def heartbeat(self, keys: Iterable[TaskInstanceKey], now: datetime) -> None:
        """Record that the tries of these instances were seen alive at ``now``."""
        ...

    def expand(self, placeholder: TaskInstanceRecord, count: int) -> list[TaskInstanceRecord]:
        """Turn an unexpanded mapped instance (map index -1) into ``count`` instances;
        returns them, by map index."""
        ...

    def record_try(self, record: TaskTryRecord) -> None: ...

    def end_try(
        self, ti: TaskInstanceRecord, state: TaskState, **fields: Any
    ) -> TaskInstanceRecord:
        """End the try ``ti`` is on: :meth:`set_state`, and the try's history row
        (:func:`~millstream.store.records.try_record_of` the changed record), in one
        statement where the database can. A failed compare-and-set writes neither."""
        ...

    def tries(self, key: TaskInstanceKey) -> list[TaskTryRecord]: ...


class XComRepo(Protocol):
    """XCom values, stored as JSON text."""

    def set_many(self, key: TaskInstanceKey, values: Iterable[tuple[str, str]]) -> None: ...

    def get_xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int,
                 key: str) -> str | None: ...

    def get_mapped_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[str]: ...

    def clear(self, key: TaskInstanceKey) -> None: ...

    def entries(self, key: TaskInstanceKey) -> list[tuple[str, str]]:
        """Every (XCom key, JSON text) of one task instance, by key."""
        ...


class PoolRepo(Protocol):
    """Named pools of worker slots."""

    def slots(self, name: str) -> int | None:
        """The pool's size, or None if no such pool exists."""
        ...

    def set(self, name: str, slots: int, description: str = "") -> None: ...

    def list(self) -> list[tuple[str, int, str]]:
        """Every pool as (name, slots, description), by name; ``default_pool`` included."""
        ...

    def delete(self, name: str) -> bool:
        """Remove a pool; False if there was none. ``default_pool`` is a ConflictError."""
        ...


class DagRepo(DueDagRepo, Protocol):
    """DAGs found by parsing, their paused flag, when each is due (``DueDagRepo``), and
    every serialized version of each."""

    def upsert(
        self, dag_id: str, fileloc: str | None, structure_json: str, version: str,
        now: datetime, paused_on_create: bool = False,
    ) -> DagRecord:
        """Record a parse of a DAG; a new ``version`` keeps the old ones for existing runs."""
        ...

    def get(self, dag_id: str) -> DagRecord | None: ...

    def list(self, active_only: bool = True) -> list[DagRecord]: ...

    def set_paused(self, dag_id: str, paused: bool) -> None:
        """Pause or unpause a DAG; an unpaused DAG is due for a look at once."""
        ...

    def structure(self, dag_id: str, version: str | None = None) -> str | None:
        """The serialized structure (JSON) of a version, by default the latest."""
        ...

    def deactivate_missing(
        self, present: Iterable[str], filelocs: Iterable[str]
    ) -> builtins.list[str]:
        """Mark DAGs from the given files that are no longer in ``present`` as inactive."""
        ...


class ImportErrorRepo(Protocol):
    """The current import error of each DAG file that fails to load."""

    def set(self, filename: str, traceback: str | None, now: datetime) -> None:
        """Store the file's error, or clear it when ``traceback`` is None."""
        ...

    def list(self) -> list[ImportErrorRecord]: ...


class AuditRepo(Protocol):
    """The log of user actions (trigger, clear, pause, edits)."""

    def add(self, record: AuditRecord) -> None: ...

    def list(self, dag_id: str | None = None, limit: int = 100) -> list[AuditRecord]: ...


class JobRepo(Protocol):
    """Heartbeats of the long-running services (job_type "scheduler", "triggerer" ...)."""

    def heartbeat(self, job_type: str, hostname: str, pid: int, now: datetime) -> None:
        """Record that this process was alive at ``now``."""
        ...

    def latest(self, job_type: str) -> JobRecord | None:
        """The process of this type with the most recent heartbeat, if any ever beat."""
        ...

    def alive(self, job_type: str, since: datetime) -> builtins.list[JobRecord]:
        """The processes of this type whose latest heartbeat is at ``since`` or later,
        by host and pid."""
        ...


class BrowseRepo(Protocol):
    """Bounded read-only queries for the web UI's pages: paging and the latest N per DAG."""

    def latest_runs(self, dag_id: str, limit: int,
                    before: datetime | None = None) -> builtins.list[DagRunRecord]:
        """Up to ``limit`` runs of the DAG (logical date before ``before``), newest first."""
        ...

    def latest_runs_per_dag(self, dag_ids: Collection[str],
                            limit: int) -> dict[str, builtins.list[DagRunRecord]]:
        """Each DAG's latest ``limit`` runs, newest first; DAGs without runs are left out."""
        ...

    def run_state_counts(self, dag_ids: Collection[str]) -> dict[str, dict[DagRunState, int]]:
        """How many runs each DAG has in each state (states without runs are left out)."""
        ...

    def run_count(self, dag_id: str) -> int: ...

    def instances_for_runs(self, dag_id: str,
                           run_ids: Collection[str]) -> builtins.list[TaskInstanceRecord]:
        """The task instances of these runs, by run, task and map index."""
        ...

    def tries_for_run(self, dag_id: str, run_id: str) -> builtins.list[TaskTryRecord]:
        """Every recorded try of the run's instances, by task, map index and try number."""
        ...

    def latest_structures(self, dag_ids: Collection[str]) -> dict[str, tuple[str, str]]:
        """``dag_id -> (version, structure JSON)`` of each DAG's latest version."""
        ...


class AssetRepo(Protocol):
    """Assets, their events, the DAGs scheduled on them and each DAG's queue of updates.

    An event queues its asset for every active, unpaused DAG scheduled on it; a run
    created from the queue consumes the entries (a compare-and-set, so two schedulers
    never both create a run from the same updates).
    """

    def set_references(
        self, dag_id: str, schedule: Iterable[AssetRecord],
        outlets: Mapping[str, Iterable[AssetRecord]], now: datetime,
    ) -> None:
        """Record the assets a DAG is scheduled on and those each of its tasks updates
        (task id -> assets), replacing what the DAG had; unknown assets are added, known
        ones get the given name and extra. Queue entries of assets the DAG is no longer
        scheduled on are dropped."""
        ...

    def get(self, uri: str) -> AssetRecord | None: ...

    def list(self) -> builtins.list[AssetRecord]:
        """Every asset, by URI."""
        ...

    def references(self) -> builtins.list[AssetReferenceRecord]:
        """For every asset, by URI: its producing tasks and the DAGs scheduled on it."""
        ...

    def record_event(
        self, uri: str, timestamp: datetime, source: TaskInstanceKey | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AssetEventRecord:
        """Add an event of the asset (added first if unknown) and queue the asset for each
        active, unpaused DAG scheduled on it that has no queue entry for it yet."""
        ...

    def events(
        self, uri: str | None = None, limit: int = 100
    ) -> builtins.list[AssetEventRecord]:
        """The latest events (of one asset, or of all), newest first."""
        ...

    def queued(self, dag_id: str | None = None) -> builtins.list[AssetQueueRecord]:
        """Queue entries (of one DAG, or of all), by DAG and URI."""
        ...

    def consume(self, entries: Iterable[AssetQueueRecord]) -> builtins.list[AssetEventRecord]:
        """Remove exactly these queue entries and return the events they stand for (each
        entry's asset's events from its first one on), oldest first. If any entry is gone
        or was replaced, :class:`~millstream.exceptions.StaleRecordError` is raised:
        another scheduler consumed it, so roll back."""
        ...

    def link_run(self, dag_id: str, run_id: str, event_ids: Iterable[int]) -> None:
        """Record which events a run was created from."""
        ...

    def run_events(self, dag_id: str, run_id: str) -> builtins.list[AssetEventRecord]:
        """The events a run was created from, oldest first."""
        ...


class TriggerRepo(Protocol):
    """Triggers of deferred task instances, and which triggerer runs each one."""

    def add(self, classpath: str, kwargs: dict[str, Any], now: datetime) -> int:
        """Store a trigger nobody runs yet; returns its id."""
        ...

    def get(self, trigger_id: int) -> TriggerRecord | None: ...

    def list(self) -> builtins.list[TriggerRecord]:
        """Every trigger, by id."""
        ...

    def assign(self, triggerer_id: str, capacity: int, now: datetime,
               stale_before: datetime) -> builtins.list[TriggerRecord]:
        """Take unowned triggers, and those whose triggerer's heartbeat is older than
        ``stale_before``, until ``triggerer_id`` runs ``capacity``; returns every trigger
        it now owns, by id. Two triggerers never take the same trigger."""
        ...

    def heartbeat(self, triggerer_id: str, now: datetime) -> None:
        """Mark the triggers of ``triggerer_id`` as still running at ``now``."""
        ...

    def owners(self) -> builtins.list[str]:
        """The triggerers that own at least one trigger."""
        ...

    def release(self, triggerer_id: str) -> int:
        """Give up every trigger of ``triggerer_id`` (for others to take); returns how many."""
        ...

    def delete(self, trigger_id: int) -> bool: ...

    def clean_unused(self) -> int:
        """Delete the triggers no deferred task instance waits on; returns how many."""
        ...

    def waiting_on(self, trigger_id: int) -> builtins.list[TaskInstanceRecord]:
        """The deferred task instances waiting on this trigger."""
        ...

    def timed_out(self, now: datetime) -> builtins.list[TaskInstanceRecord]:
        """Deferred task instances whose trigger timeout is before ``now``."""
        ...


class TaskRescheduleRepo(Protocol):
    """The pokes of reschedule-mode sensors that gave their slot back, per try."""

    def add(self, record: TaskRescheduleRecord) -> None: ...

    def for_try(self, key: TaskInstanceKey, try_number: int) -> builtins.list[
        TaskRescheduleRecord
    ]:
        """The reschedules of one try, oldest first."""
        ...


class ListingRepo(Protocol):
    """Pages of the REST API's long lists, cut and counted in the store (states None: any)."""

    def runs(self, dag_id: str | None, states: Collection[DagRunState] | None,
             newest_first: bool, limit: int, offset: int = 0) -> PageRecord[DagRunRecord]:
        """Runs of a DAG (None: of all), by logical date, DAG id and run id."""

    def task_instances(self, dag_id: str, run_id: str, states: Collection[TaskState] | None,
                       limit: int, offset: int = 0) -> PageRecord[TaskInstanceRecord]:
        """A run's instances by task id and map index."""

    def xcom_entries(self, key: TaskInstanceKey, limit: int,
                     offset: int = 0) -> PageRecord[tuple[str, str]]:
        """A task instance's (XCom key, JSON text) pairs, by key."""

    def dags(self, active_only: bool, paused: bool | None, id_contains: str | None,
             limit: int | None, offset: int = 0) -> PageRecord[DagRecord]:
        """DAGs by id; ``id_contains`` ignores case; ``limit`` None: all of them."""


class Store(Protocol):
    """All repositories over one backing store, and its transactions."""

    dags: DagRepo
    import_errors: ImportErrorRepo
    audit: AuditRepo
    runs: RunRepo
    task_instances: TaskInstanceRepo
    xcoms: XComRepo
    pools: PoolRepo
    assets: AssetRepo
    variables: VariableRepo
    connections: ConnectionRepo
    browse: BrowseRepo
    users: UserRepo
    api_tokens: ApiTokenRepo
    login_sessions: LoginSessionRepo
    jobs: JobRepo
    triggers: TriggerRepo
    task_reschedules: TaskRescheduleRepo
    listing: ListingRepo
    signals: ChangeSignalRepo
    overview: OverviewRepo
    deadline_misses: DeadlineMissRepo
    state_stores: StateStoreRepo

    def transaction(self, read_only: bool = False) -> AbstractContextManager[None]:
        """Commit at the end, roll back if the block raises; nested calls join. A
        ``read_only`` one holds no write lock and raises StoreUsageError on a write."""


__all__ = [
    "ApiTokenRepo", "AssetRepo", "AuditRepo", "BrowseRepo", "ChangeSignalRepo", "ConnectionRepo",
    "DagRepo", "ImportErrorRepo", "JobRepo", "ListingRepo", "LoginSessionRepo", "PoolRepo",
    "RunRepo", "Store", "TaskInstanceRepo", "TaskRescheduleRepo", "TriggerRepo", "UserRepo",
    "VariableRepo", "XComRepo",
]
