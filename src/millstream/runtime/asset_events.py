"""``triggering_asset_events``: the asset events an asset-triggered run was created from.

A task of a run made from asset updates sees them in its context, as in Airflow: a mapping
of each asset's URI to the events of it the run consumed, oldest first. Each event names
its asset, when it happened, the task try that made it (DAG, task, run, map index) and its
extra. The metadata store is read the first time the mapping is used, so a task that never
looks costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from millstream.authoring.assets import Asset
    from millstream.store.asset_records import AssetEventRecord
    from millstream.store.records import DagRunRecord


@dataclass(frozen=True)
class TriggeringAssetEvent:
    """One update of an asset that the run was created from (Airflow's ``AssetEvent``)."""

    id: int
    uri: str
    timestamp: datetime
    source_dag_id: str | None = None
    source_task_id: str | None = None
    source_run_id: str | None = None
    source_map_index: int = -1
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, record: AssetEventRecord) -> TriggeringAssetEvent:
        return cls(record.id, record.uri, record.timestamp, record.source_dag_id,
                   record.source_task_id, record.source_run_id, record.source_map_index,
                   dict(record.extra))

    @property
    def asset(self) -> Asset:
        """The asset, with the name and extra the metadata store has for it."""
        from millstream.authoring.assets import Asset
        from millstream.store.current import metadata_transaction

        with metadata_transaction() as store:
            record = store.assets.get(self.uri)
        if record is None:  # removed since: the URI is all there is to tell
            return Asset(uri=self.uri)
        return Asset(record.name, record.uri, extra=record.extra)

    @property
    def source_dag_run(self) -> DagRunRecord | None:
        """The run whose task made the event, if it still exists (None for an event that
        no task made, e.g. one recorded through the API)."""
        if self.source_dag_id is None or self.source_run_id is None:
            return None
        from millstream.store.current import metadata_transaction

        with metadata_transaction() as store:
            return store.runs.get(self.source_dag_id, self.source_run_id)


class TriggeringAssetEvents(Mapping[str, list[TriggeringAssetEvent]]):
    """Asset URI -> the events of that asset the run was created from, oldest first.

    Empty for runs not created from asset events. An :class:`~millstream.Asset` works as a
    key as well as its URI does.
    """

    def __init__(self, dag_id: str, run_id: str) -> None:
        self._dag_id = dag_id
        self._run_id = run_id
        self._events: dict[str, list[TriggeringAssetEvent]] | None = None

    def _loaded(self) -> dict[str, list[TriggeringAssetEvent]]:
        if self._events is None:
            from millstream.store.current import metadata_transaction

            grouped: dict[str, list[TriggeringAssetEvent]] = {}
            with metadata_transaction() as store:
                records = store.assets.run_events(self._dag_id, self._run_id)
            for record in records:
                grouped.setdefault(record.uri, []).append(TriggeringAssetEvent.of(record))
            self._events = grouped
        return self._events

    def __getitem__(self, key: object) -> list[TriggeringAssetEvent]:
        uri = getattr(key, "uri", key)
        if not isinstance(uri, str):
            raise KeyError(key)
        return self._loaded()[uri]

    def __contains__(self, key: object) -> bool:
        uri = getattr(key, "uri", key)
        return isinstance(uri, str) and uri in self._loaded()

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __repr__(self) -> str:
        if self._events is None:
            return f"<TriggeringAssetEvents of run {self._run_id!r}, not read yet>"
        return f"TriggeringAssetEvents({self._events!r})"


__all__ = ["TriggeringAssetEvent", "TriggeringAssetEvents"]
