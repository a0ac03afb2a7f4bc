"""The task and asset state stores: key/value entries a task keeps across tries and runs.

A task state entry belongs to one task instance (dag_id, run_id, task_id, map_index) and
goes away with its run, or when it expires; an asset state entry belongs to an asset (by
URI) and stays until deleted. Values are JSON text. The repository interface is
:class:`StateStoreRepo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class TaskStateScope:
    """The task instance a task state entry belongs to."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


class StateStoreRepo(Protocol):
    """Task state (per task instance) and asset state (per asset URI) entries."""

    def get_task_state(self, scope: TaskStateScope, key: str, now: datetime) -> str | None:
        """The JSON text under ``key``, or None if it is not there or expired by ``now``."""
        ...

    def set_task_state(self, scope: TaskStateScope, key: str, value_json: str,
                       expires_at: datetime | None, now: datetime) -> None:
        """Store ``value_json`` under ``key`` (replacing it), kept until ``expires_at``."""
        ...

    def delete_task_state(self, scope: TaskStateScope, key: str) -> None:
        """Remove ``key`` (nothing happens if it is not there)."""
        ...

    def clear_task_state(self, scope: TaskStateScope) -> int:
        """Remove every key of the task instance; how many there were."""
        ...

    def task_state_keys(self, scope: TaskStateScope, now: datetime) -> list[str]:
        """The live keys of a task instance, sorted."""
        ...

    def purge_expired(self, now: datetime) -> int:
        """Remove the task state entries expired by ``now``; how many."""
        ...

    def get_asset_state(self, uri: str, key: str) -> str | None:
        """The JSON text under ``key`` of the asset, or None."""
        ...

    def set_asset_state(self, uri: str, key: str, value_json: str, now: datetime) -> None:
        """Store ``value_json`` under ``key`` of the asset (replacing it)."""
        ...

    def delete_asset_state(self, uri: str, key: str) -> None:
        """Remove ``key`` of the asset (nothing happens if it is not there)."""
        ...

    def clear_asset_state(self, uri: str) -> int:
        """Remove every key of the asset; how many there were."""
        ...

    def asset_state_keys(self, uri: str) -> list[str]:
        """The keys of the asset, sorted."""
        ...


__all__ = ["StateStoreRepo", "TaskStateScope"]
