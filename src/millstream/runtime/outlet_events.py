"""``outlet_events`` and ``inlet_events``: a task's view of the asset events it makes and reads.

As in Airflow 3: ``outlet_events[asset].extra = {...}`` sets the extra of the event the
task's success records for that outlet, and ``outlet_events[AssetAlias("x")].add(asset,
extra={...})`` names an asset updated through an alias. ``inlet_events[asset]`` lists the
asset's latest events (oldest first), read from the metadata store on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from millstream.runtime.asset_events import TriggeringAssetEvent


def _key(item: object) -> tuple[str, str]:
    uri = getattr(item, "uri", None)
    if isinstance(uri, str):
        return ("asset", uri)
    name = getattr(item, "name", None)
    if type(item).__name__ == "AssetAlias" and isinstance(name, str):
        return ("alias", name)
    if isinstance(item, str):
        return ("asset", item)
    raise KeyError(f"{item!r} is neither an Asset nor an AssetAlias")


class OutletEventAccessor:
    """The event of one outlet (or alias) of the running task."""

    def __init__(self, key: object) -> None:
        self.key = key
        self.extra: dict[str, Any] = {}
        self.asset_alias_events: list[tuple[Any, dict[str, Any]]] = []
        self.partition_keys: list[str] = []

    def add_partitions(self, keys: str | list[str]) -> None:
        """Name the partitions of the asset this try made (kept here: runs have no
        partition keys yet)."""
        self.partition_keys.extend([keys] if isinstance(keys, str) else list(keys))

    def add(self, asset: Any, extra: dict[str, Any] | None = None) -> None:
        """Record that ``asset`` was updated (through this alias), with ``extra``."""
        self.asset_alias_events.append((asset, dict(extra or {})))

    def __repr__(self) -> str:
        return f"<OutletEventAccessor {self.key!r} extra={self.extra!r}>"


class OutletEventAccessors:
    """Asset or alias -> its :class:`OutletEventAccessor`, made on first use."""

    def __init__(self) -> None:
        self._accessors: dict[tuple[str, str], OutletEventAccessor] = {}

    def __getitem__(self, key: object) -> OutletEventAccessor:
        found = _key(key)
        if found not in self._accessors:
            self._accessors[found] = OutletEventAccessor(key)
        return self._accessors[found]

    def __iter__(self) -> Iterator[Any]:
        return iter(accessor.key for accessor in self._accessors.values())

    def __len__(self) -> int:
        return len(self._accessors)


class InletEventAccessors:
    """Asset -> its latest events (oldest first), read from the metadata store."""

    def __init__(self, limit: int = 100) -> None:
        self._limit = limit
        self._read: dict[tuple[str, str], list[TriggeringAssetEvent]] = {}

    def __getitem__(self, key: object) -> list[TriggeringAssetEvent]:
        kind, value = _key(key)
        if (kind, value) not in self._read:
            events: list[TriggeringAssetEvent] = []
            if kind == "asset":
                from millstream.store.current import metadata_transaction

                with metadata_transaction() as store:
                    records = store.assets.events(value, limit=self._limit)
                events = [TriggeringAssetEvent.of(r) for r in reversed(records)]
            self._read[(kind, value)] = events
        return self._read[(kind, value)]

    def for_asset(self, name: str | None = None, uri: str | None = None) -> list[Any]:
        """The events of the asset with this URI (or name, when its URI is the name)."""
        return self[uri if uri is not None else name]

    def for_asset_alias(self, name: str) -> list[Any]:
        """Events through an alias: none are recorded by millstream yet."""
        return []


__all__ = ["InletEventAccessors", "OutletEventAccessor", "OutletEventAccessors"]
