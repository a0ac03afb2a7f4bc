"""Plain records of assets, asset events and each DAG's queue of asset updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """An asset known to the store, identified by its URI.

    As an argument (registering a DAG's assets) ``id`` and ``created`` may be left unset;
    the store fills them in.
    """

    uri: str
    name: str
    extra: dict[str, Any] = field(default_factory=dict)
    created: datetime | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class AssetEventRecord:
    """One update of an asset: which task try made it (if any), when, with what extra."""

    id: int
    uri: str
    timestamp: datetime
    source_dag_id: str | None = None
    source_run_id: str | None = None
    source_task_id: str | None = None
    source_map_index: int = -1
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AssetQueueRecord:
    """An asset updated since the last asset-triggered run of a DAG scheduled on it.

    ``first_event_id`` is the first event that queued it; later events of the asset
    join the same entry until a run consumes it.
    """

    dag_id: str
    uri: str
    first_event_id: int
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class AssetReferenceRecord:
    """Who uses an asset: the tasks that update it and the DAGs scheduled on it."""

    uri: str
    producing_tasks: tuple[tuple[str, str], ...] = ()  # (dag_id, task_id)
    consuming_dags: tuple[str, ...] = ()
