"""``AssetWatcher``: a trigger that watches for changes of an asset (event-driven scheduling).

``Asset("landing", watchers=[AssetWatcher(name="landing_watch", trigger=FileDeleteTrigger(
filepath="/data/landing/ready"))])`` says what updates the asset from outside millstream:
each event of the trigger is an update of the asset, which schedules the DAGs scheduled on
it, as in Airflow 3's event-driven scheduling. The trigger is kept as its ``serialize()``
form (import path and JSON kwargs), so the DAG's stored structure holds it and the
triggerer can build it again.
"""

from __future__ import annotations

from typing import Any

from millstream.exceptions import DagDefinitionError
from millstream.triggerer.base import serialize_trigger


class AssetWatcher:
    """A named trigger whose events are updates of the asset that holds it."""

    __slots__ = ("classpath", "kwargs", "name", "trigger")

    def __init__(self, name: str, trigger: Any) -> None:
        if not isinstance(name, str) or not name.strip():
            raise DagDefinitionError(
                f"AssetWatcher: name must be a non-empty string, got {name!r}")
        try:
            classpath, kwargs = serialize_trigger(trigger)
        except TypeError as exc:
            raise DagDefinitionError(
                f"AssetWatcher {name!r}: trigger must be a millstream trigger "
                f"(BaseTrigger): {exc}") from None
        self.name = name
        self.trigger = trigger
        self.classpath = classpath
        self.kwargs: dict[str, Any] = kwargs

    def as_json(self) -> dict[str, Any]:
        """The watcher as JSON-ready data (see :meth:`from_json`)."""
        return {"name": self.name, "classpath": self.classpath, "kwargs": self.kwargs}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AssetWatcher:
        """A watcher read back from its stored form; ``trigger`` is None until built."""
        watcher = cls.__new__(cls)
        watcher.name = data["name"]
        watcher.classpath = data["classpath"]
        watcher.kwargs = dict(data["kwargs"])
        watcher.trigger = None
        return watcher

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetWatcher):
            return NotImplemented
        return self.as_json() == other.as_json()

    def __hash__(self) -> int:
        return hash((self.name, self.classpath))

    def __repr__(self) -> str:
        return f"AssetWatcher(name={self.name!r}, trigger={self.classpath})"


def check_watchers(watchers: object, label: object) -> tuple[AssetWatcher, ...]:
    """``watchers`` as a tuple of AssetWatcher, or DagDefinitionError saying what is wrong."""
    if watchers is None:
        return ()
    if not isinstance(watchers, list | tuple):
        raise DagDefinitionError(
            f"Asset {label!r}: watchers must be a list of AssetWatcher, got "
            f"{type(watchers).__name__}")
    found = tuple(watchers)
    for item in found:
        if not isinstance(item, AssetWatcher):
            raise DagDefinitionError(
                f"Asset {label!r}: watchers must be AssetWatcher objects, got {item!r}")
    names = [w.name for w in found]
    if len(set(names)) != len(names):
        raise DagDefinitionError(f"Asset {label!r}: two watchers have the same name: {names}")
    return found


__all__ = ["AssetWatcher", "check_watchers"]
