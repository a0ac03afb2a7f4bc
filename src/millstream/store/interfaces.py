"""The repository interfaces every store implements (in-memory now, SQL in the durable engine).

Repositories never commit: the caller owns the transaction (``store.transaction()``).
Every state change goes through :func:`millstream.model.states.check_transition`.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import (
    AuditRecord,
    DagRecord,
    DagRunRecord,
    ImportErrorRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)


class RunRepo(Protocol):
    """DAG runs."""

    def add(self, run: DagRunRecord) -> None: ...

    def get(self, dag_id: str, run_id: str) -> DagRunRecord | None: ...

    def find(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None: ...

    def list(
        self, dag_id: str | None = None, states: Iterable[DagRunState] | None = None
    ) -> list[DagRunRecord]: ...

    def previous(self, dag_id: str, logical_date: datetime) -> DagRunRecord | None:
        """The run of the same DAG with the latest logical date before ``logical_date``."""
        ...

    def set_state(self, run: DagRunRecord, state: DagRunState, **fields: Any) -> None: ...


class TaskInstanceRepo(Protocol):
    """Task instances and the history of their tries."""

    def add_many(self, instances: Iterable[TaskInstanceRecord]) -> None: ...

    def get(self, key: TaskInstanceKey) -> TaskInstanceRecord | None: ...

    def for_run(
        self, dag_id: str, run_id: str, task_ids: Collection[str] | None = None
    ) -> list[TaskInstanceRecord]:
        """The run's instances, or only those of ``task_ids``."""
        ...

    def unfinished_count(self, dag_id: str, run_id: str) -> int:
        """How many instances of the run have not finished."""
        ...

    def in_states(self, states: Iterable[TaskState]) -> list[TaskInstanceRecord]: ...

    def dispatchable(self, limit: int, offset: int = 0) -> list[TaskInstanceRecord]:
        """Up to ``limit`` scheduled instances, highest priority first, locked for this
        transaction where the database can lock rows (so two schedulers never share one)."""
        ...

    def set_state(self, ti: TaskInstanceRecord, state: TaskState, **fields: Any) -> None:
        """Apply a checked transition and update ``fields`` in the same write."""
        ...

    def claim(
        self, ti: TaskInstanceRecord, expected: TaskState, state: TaskState, **fields: Any
    ) -> bool:
        """Compare-and-set: change the state only if it is still ``expected``."""
        ...

    def heartbeat(self, keys: Iterable[TaskInstanceKey], now: datetime) -> None:
        """Record that the tries of these instances were seen alive at ``now``."""
        ...

    def expand(self, placeholder: TaskInstanceRecord, count: int) -> list[TaskInstanceRecord]:
        """Turn an unexpanded mapped instance (map index -1) into ``count`` instances."""
        ...

    def record_try(self, record: TaskTryRecord) -> None: ...

    def tries(self, key: TaskInstanceKey) -> list[TaskTryRecord]: ...


class XComRepo(Protocol):
    """XCom values, stored as JSON text."""

    def set_many(self, key: TaskInstanceKey, values: Iterable[tuple[str, str]]) -> None: ...

    def get_xcom(
        self, dag_id: str, run_id: str, task_id: str, map_index: int, key: str
    ) -> str | None: ...

    def get_mapped_xcoms(self, dag_id: str, run_id: str, task_id: str, key: str) -> list[str]: ...

    def clear(self, key: TaskInstanceKey) -> None: ...


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
        """Remove a pool; False if there was none. ``default_pool`` is a ValueError."""
        ...


class DagRepo(Protocol):
    """DAGs found by parsing, their paused flag, and every serialized version of each."""

    def upsert(
        self, dag_id: str, fileloc: str | None, structure_json: str, version: str,
        now: datetime, paused_on_create: bool = False,
    ) -> DagRecord:
        """Record a parse of a DAG; a new ``version`` keeps the old ones for existing runs."""
        ...

    def get(self, dag_id: str) -> DagRecord | None: ...

    def list(self, active_only: bool = True) -> list[DagRecord]: ...

    def set_paused(self, dag_id: str, paused: bool) -> None: ...

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


class Store(Protocol):
    """All repositories over one backing store, and its transactions."""

    dags: DagRepo
    import_errors: ImportErrorRepo
    audit: AuditRepo
    runs: RunRepo
    task_instances: TaskInstanceRepo
    xcoms: XComRepo
    pools: PoolRepo

    def transaction(self) -> AbstractContextManager[None]: ...


__all__ = [
    "AuditRepo", "DagRepo", "ImportErrorRepo", "Iterator", "PoolRepo", "RunRepo", "Store",
    "TaskInstanceRepo", "XComRepo",
]
