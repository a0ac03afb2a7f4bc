"""Which asset watchers the triggerer runs: those of the assets that active, unpaused DAGs
are scheduled on, read from the DAGs' stored structures (see triggerer/asset_watch.py).

The structures are read again only when a DAG's version changes, and the whole answer at
most every ``refresh`` seconds, so the triggerer's one-second rounds stay cheap.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from millstream.parsing.serialize import scheduled_asset_json
from millstream.store.interfaces import Store
from millstream.triggerer.asset_watch import WatchSpec

REFRESH = timedelta(seconds=10)


def watch_specs_of(structure: dict[str, Any]) -> list[WatchSpec]:
    """The watchers of the assets a stored DAG structure is scheduled on."""
    specs: list[WatchSpec] = []
    for asset in scheduled_asset_json(structure.get("schedule", {})):
        for watcher in asset.get("watchers", []):
            specs.append(WatchSpec(asset["uri"], watcher["name"], watcher["classpath"],
                                   dict(watcher["kwargs"])))
    return specs


class StoredAssetWatchers:
    """The triggerer's watch source: ``source(store)`` -> the watchers to run, by key."""

    def __init__(self, refresh: timedelta = REFRESH) -> None:
        self.refresh = refresh
        self._by_version: dict[tuple[str, str], list[WatchSpec]] = {}
        self._answer: dict[str, WatchSpec] = {}
        self._next: datetime | None = None

    def __call__(self, store: Store) -> dict[str, WatchSpec]:
        now = datetime.now(UTC)
        if self._next is not None and now < self._next:
            return self._answer
        wanted: dict[str, WatchSpec] = {}
        seen: set[tuple[str, str]] = set()
        for dag in store.dags.list(active_only=True):
            if dag.is_paused or dag.latest_version is None:
                continue
            version = (dag.dag_id, dag.latest_version)
            seen.add(version)
            if version not in self._by_version:
                text = store.dags.structure(dag.dag_id, dag.latest_version)
                self._by_version[version] = watch_specs_of(json.loads(text)) if text else []
            for spec in self._by_version[version]:
                wanted.setdefault(spec.key, spec)  # two DAGs on one asset: one watcher
        self._by_version = {v: s for v, s in self._by_version.items() if v in seen}
        self._answer, self._next = wanted, now + self.refresh
        return wanted


__all__ = ["REFRESH", "StoredAssetWatchers", "watch_specs_of"]
