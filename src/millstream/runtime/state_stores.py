"""``task_state_store`` and ``asset_state_store``: what a task keeps across tries and runs.

As in Airflow 3.3, a task's context has:

* ``task_state_store``: keys of this task instance (dag_id, run_id, task_id, map_index),
  kept across its tries in the run: ``get(key, default=None)``, ``set(key, value,
  retention=None)``, ``delete(key)``, ``clear()``. ``retention`` is a timedelta, seconds
  or ``NEVER_EXPIRE``; without it a key is kept 30 days.
* ``asset_state_store``: for each concrete asset among the task's inlets and outlets,
  ``asset_state_store[asset]`` with the same four methods; its keys belong to the asset
  and stay until deleted. A task with no such asset has no ``asset_state_store``.

Values are JSON. Every call is one short transaction of the metadata store, so what a
try wrote is there for the next try even if this one dies right after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from millstream.authoring.assets import Asset
from millstream.model.state_retention import check_key, expires_at
from millstream.store.current import metadata_transaction
from millstream.store.state_store_records import TaskStateScope


def _encode(owner: str, key: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{owner}: the value of key {key!r} is not JSON ({exc})") from exc


def _now() -> datetime:
    return datetime.now(UTC)


class TaskStateStoreAccessor:
    """The state store of one task instance."""

    def __init__(self, scope: TaskStateScope) -> None:
        self.scope = scope

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` if it is not set (or expired)."""
        check_key(key)
        with metadata_transaction() as store:
            text = store.state_stores.get_task_state(self.scope, key, _now())
        return default if text is None else json.loads(text)

    def set(self, key: str, value: Any, retention: object = None) -> None:
        """Store ``value`` (JSON) under ``key``, kept for ``retention`` (see the module)."""
        check_key(key)
        text = _encode("task_state_store", key, value)
        now = _now()
        expiry = expires_at(now, retention)
        with metadata_transaction() as store:
            store.state_stores.set_task_state(self.scope, key, text, expiry, now)

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens if it is not set."""
        check_key(key)
        with metadata_transaction() as store:
            store.state_stores.delete_task_state(self.scope, key)

    def clear(self) -> None:
        """Remove every key of this task instance."""
        with metadata_transaction() as store:
            store.state_stores.clear_task_state(self.scope)

    def keys(self) -> list[str]:
        """The keys set (and not expired), sorted."""
        with metadata_transaction() as store:
            return store.state_stores.task_state_keys(self.scope, _now())

    def __repr__(self) -> str:
        s = self.scope
        index = "" if s.map_index < 0 else f"[{s.map_index}]"
        return f"<task_state_store {s.dag_id}.{s.task_id}{index} {s.run_id}>"


class AssetStateStoreAccessor:
    """The state store of one asset."""

    def __init__(self, asset: Asset) -> None:
        self.asset = asset
        self.uri = asset.uri

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` if it is not set."""
        check_key(key)
        with metadata_transaction() as store:
            text = store.state_stores.get_asset_state(self.uri, key)
        return default if text is None else json.loads(text)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON) under ``key``, until it is deleted."""
        check_key(key)
        text = _encode(f"asset_state_store[{self.uri!r}]", key, value)
        with metadata_transaction() as store:
            store.state_stores.set_asset_state(self.uri, key, text, _now())

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing happens if it is not set."""
        check_key(key)
        with metadata_transaction() as store:
            store.state_stores.delete_asset_state(self.uri, key)

    def clear(self) -> None:
        """Remove every key of this asset."""
        with metadata_transaction() as store:
            store.state_stores.clear_asset_state(self.uri)

    def keys(self) -> list[str]:
        """The keys set, sorted."""
        with metadata_transaction() as store:
            return store.state_stores.asset_state_keys(self.uri)

    def __repr__(self) -> str:
        return f"<asset_state_store {self.uri!r}>"


class AssetStateStores:
    """Asset (or its name or URI) -> its state store, for the task's inlets and outlets.

    With a single asset, ``get``/``set``/``delete``/``clear`` on this object act on it.
    """

    def __init__(self, assets: Sequence[Asset]) -> None:
        self._by_uri: dict[str, AssetStateStoreAccessor] = {}
        for asset in assets:
            self._by_uri.setdefault(asset.uri, AssetStateStoreAccessor(asset))

    def __getitem__(self, item: object) -> AssetStateStoreAccessor:
        for accessor in self._by_uri.values():
            if item is accessor.asset or item == accessor.asset or \
                    item in (accessor.uri, accessor.asset.name):
                return accessor
        raise KeyError(
            f"asset_state_store has no {item!r}: a task reaches the state of the assets among "
            f"its inlets and outlets only ({', '.join(self._by_uri) or 'none'})")

    def __contains__(self, item: object) -> bool:
        try:
            self[item]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[Asset]:
        return iter(accessor.asset for accessor in self._by_uri.values())

    def __len__(self) -> int:
        return len(self._by_uri)

    def _only(self, method: str) -> AssetStateStoreAccessor:
        if len(self._by_uri) != 1:
            raise TypeError(
                f"asset_state_store.{method}(): the task has {len(self._by_uri)} assets "
                f"({', '.join(self._by_uri)}); say which: asset_state_store[asset].{method}()")
        return next(iter(self._by_uri.values()))

    def get(self, key: str, default: Any = None) -> Any:
        return self._only("get").get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._only("set").set(key, value)

    def delete(self, key: str) -> None:
        self._only("delete").delete(key)

    def clear(self) -> None:
        self._only("clear").clear()

    def __repr__(self) -> str:
        return f"<asset_state_store of {', '.join(self._by_uri)}>"


def concrete_assets(*groups: Sequence[object] | None) -> list[Asset]:
    """The :class:`Asset` objects among inlets and outlets (aliases and the rest left out)."""
    return [item for group in groups for item in (group or []) if isinstance(item, Asset)]


__all__ = ["AssetStateStoreAccessor", "AssetStateStores", "TaskStateStoreAccessor",
           "concrete_assets"]
