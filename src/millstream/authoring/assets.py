"""Assets: named pieces of data that tasks update (outlets) and that DAGs can be scheduled on.

A task declares what it writes with ``outlets=[Asset("warehouse.sales_fact")]``; each
successful try of it records an *asset event*. A DAG with
``schedule=[Asset("warehouse.sales_fact"), Asset("warehouse.customers")]`` gets a run
(``run_type="asset_triggered"``) once every one of its assets has had an event since its
previous asset-triggered run, as with Apache Airflow's data-aware scheduling.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from millstream.authoring.asset_watchers import AssetWatcher, check_watchers
from millstream.exceptions import DagDefinitionError
from millstream.model.intervals import NoSchedule

MAX_IDENTIFIER_LENGTH = 1500
"""Longest asset name or URI (the metadata database indexes the URI)."""

RESERVED_SCHEMES = frozenset({"airflow", "millstream"})
"""URI schemes kept for the orchestrator's own use, as Airflow reserves ``airflow://``."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)


# The latest asset made with each name, for Asset.ref(name=...): one entry per name.
_by_name: dict[str, Asset] = {}


class Asset:
    """A piece of data, named by a URI, that tasks update and DAGs can be scheduled on.

    ``Asset("warehouse.sales_fact")`` names it; ``uri`` defaults to the name and the
    name to the URI, so ``Asset(uri="s3://lake/sales/")`` works too. The URI is what
    identifies the asset in the metadata database. ``extra`` is a JSON object kept with
    it. Bad values raise :class:`~millstream.exceptions.DagDefinitionError` saying what
    is wrong.
    """

    __slots__ = ("access_control", "extra", "group", "name", "uri", "watchers")

    def __init__(
        self,
        name: str | None = None,
        uri: str | None = None,
        *,
        group: str = "asset",
        extra: Mapping[str, Any] | None = None,
        access_control: Any = None,
        watchers: Any = None,
    ) -> None:
        if name is None and uri is None:
            raise DagDefinitionError("an Asset needs a name or a uri, e.g. Asset('sales_fact')")
        label = name if name is not None else uri
        checked_name = _identifier(name if name is not None else uri, "name", label)
        set_field = object.__setattr__  # assets are immutable once made
        set_field(self, "name", checked_name)
        set_field(self, "uri", _uri(uri if uri is not None else checked_name, label))
        set_field(self, "group", _identifier(group, "group", label))
        set_field(self, "extra", _extra(extra, label))
        set_field(self, "access_control", access_control)  # kept for Airflow files; no teams
        set_field(self, "watchers", check_watchers(watchers, label))
        _by_name[checked_name] = self

    name: str
    uri: str
    group: str
    extra: dict[str, Any]
    watchers: tuple[AssetWatcher, ...]

    def __setattr__(self, attribute: str, value: object) -> None:
        raise AttributeError(f"{self!r} cannot be changed: make a new Asset instead")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Asset.from_json, (self.as_json(),))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Asset):
            return NotImplemented
        return (self.name, self.uri) == (other.name, other.uri)

    def __hash__(self) -> int:
        return hash((self.name, self.uri))

    def __repr__(self) -> str:
        if self.name == self.uri:
            return f"Asset({self.uri!r})"
        return f"Asset(name={self.name!r}, uri={self.uri!r})"

    def __or__(self, other: object) -> Any:
        """Either asset updated: a condition to schedule on (``a | b``)."""
        from millstream.authoring.asset_expressions import AssetAny

        return AssetAny(self, other)

    def __and__(self, other: object) -> Any:
        """Both assets updated: a condition to schedule on (``a & b``)."""
        from millstream.authoring.asset_expressions import AssetAll

        return AssetAll(self, other)

    @classmethod
    def ref(cls, *, name: str | None = None, uri: str | None = None) -> Asset:
        """The asset with this name (or URI), as Airflow's ``Asset.ref``: one made earlier
        in this process with that name, else a new one named so."""
        if name is not None and uri is None and name in _by_name:
            return _by_name[name]
        return cls(name, uri)

    def as_json(self) -> dict[str, Any]:
        """The asset as JSON-ready data (see :meth:`from_json`)."""
        data: dict[str, Any] = {"name": self.name, "uri": self.uri, "group": self.group,
                                "extra": self.extra}
        if self.watchers:  # only then: the stored structure of other assets is unchanged
            data["watchers"] = [w.as_json() for w in self.watchers]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Asset:
        watchers = [AssetWatcher.from_json(w) for w in data.get("watchers", ())]
        return cls(data["name"], data["uri"], group=data.get("group", "asset"),
                   extra=data.get("extra"), watchers=watchers or None)


def _identifier(value: object, what: str, label: object) -> str:
    if not isinstance(value, str):
        raise DagDefinitionError(
            f"Asset {label!r}: {what} must be a string, got {type(value).__name__}"
        )
    if not value or value.isspace():
        raise DagDefinitionError(f"Asset {label!r}: {what} must not be empty")
    if value != value.strip():
        raise DagDefinitionError(
            f"Asset {label!r}: {what} must not start or end with whitespace"
        )
    if len(value) > MAX_IDENTIFIER_LENGTH:
        raise DagDefinitionError(
            f"Asset {value[:40]!r}...: {what} is {len(value)} characters long; "
            f"at most {MAX_IDENTIFIER_LENGTH} are allowed"
        )
    if _CONTROL.search(value):
        raise DagDefinitionError(f"Asset {label!r}: {what} must not contain control characters")
    return value


def _uri(value: object, label: object) -> str:
    uri = _identifier(value, "uri", label)
    if not uri.isascii():
        raise DagDefinitionError(
            f"Asset {label!r}: uri {uri!r} must be ASCII (percent-encode other characters)"
        )
    scheme = _SCHEME.match(uri)
    if scheme is not None:
        if scheme.group(1).lower() in RESERVED_SCHEMES:
            raise DagDefinitionError(
                f"Asset {label!r}: the uri scheme {scheme.group(1)!r} is reserved"
            )
        if not scheme.group(2).strip("/"):
            raise DagDefinitionError(
                f"Asset {label!r}: uri {uri!r} has a scheme but nothing after it"
            )
    return uri


def check_extra(value: object, label: object) -> dict[str, Any]:
    """``value`` as an asset's or event's extra: a JSON-serializable dict with string keys."""
    return _extra(value, label)


def _extra(value: object, label: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DagDefinitionError(
            f"Asset {label!r}: extra must be a dict, got {type(value).__name__}"
        )
    bad_keys = [k for k in value if not isinstance(k, str)]
    if bad_keys:
        raise DagDefinitionError(f"Asset {label!r}: extra keys must be strings, got {bad_keys!r}")
    try:
        json.dumps(dict(value))
    except (TypeError, ValueError) as exc:
        raise DagDefinitionError(f"Asset {label!r}: extra must be JSON-serializable: {exc}") \
            from None
    return dict(value)


# -- scheduling on assets ----------------------------------------------------------------------
class AssetTriggered:
    """A schedule that makes runs from asset updates (alone, or as well as from the clock)."""

    __slots__ = ()
    assets: tuple[Asset, ...]
    condition: Any

    @property
    def uris(self) -> tuple[str, ...]:
        """The URIs of the assets, in the order given."""
        return tuple(a.uri for a in self.assets)

    def is_due(self, updated: Mapping[str, bool] | set[str] | frozenset[str]) -> bool:
        """Whether the updates (URIs updated since the last asset-triggered run) meet the
        schedule: every asset, or the condition (``|``, ``&``) when one was given."""
        seen = {u for u, flag in updated.items() if flag} if isinstance(updated, Mapping) \
            else set(updated)
        if self.condition is None:
            return bool(self.uris) and set(self.uris) <= seen
        return bool(self.condition.evaluate({uri: True for uri in seen}))


@dataclass(frozen=True)
class AssetSchedule(NoSchedule, AssetTriggered):
    """A DAG scheduled on assets: no time-based runs, a run once every asset was updated.

    Like :class:`NoSchedule`, the clock never makes a run due and a manual run covers the
    point interval at its logical date.

    The scheduler creates those runs (see ``millstream.scheduler.assets``); a run's
    logical date is the moment it was created and its data interval spans the asset
    events it consumed. A manual run of such a DAG covers the point interval at its
    logical date.
    """

    assets: tuple[Asset, ...]
    condition: Any = None  # an AssetAny / AssetAll (| and &); None: every asset

    def __post_init__(self) -> None:
        if not self.assets and self.condition is None:
            raise ValueError("a schedule on assets needs at least one Asset")
        for asset in self.assets:
            if not isinstance(asset, Asset):
                raise ValueError(
                    f"schedule lists {asset!r} of type {type(asset).__name__}; "
                    "a list schedule may hold only Asset objects"
                )
        uris = [a.uri for a in self.assets]
        duplicates = sorted({u for u in uris if uris.count(u) > 1})
        if duplicates:
            raise ValueError(f"schedule lists the asset {duplicates[0]!r} more than once")

    def __str__(self) -> str:
        if self.condition is not None:
            return f"assets: {self.condition!r}"
        return "assets: " + ", ".join(self.uris)


def asset_schedule(value: object) -> AssetSchedule | None:
    """The :class:`AssetSchedule` for a DAG's ``schedule`` argument, if it names assets.

    An ``Asset`` or a list (tuple, set) holding Assets gives a schedule on them; any other
    value gives ``None`` (a time-based or manual schedule). A list that is empty or holds
    something else than Assets is a ``ValueError`` saying so.
    """
    if isinstance(value, Asset):
        return AssetSchedule((value,))
    from millstream.authoring.asset_expressions import condition_schedule

    on_condition = condition_schedule(value)
    if on_condition is not None:
        return on_condition
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if not items:
            raise ValueError("schedule is an empty list of assets; use None for manual runs only")
        if isinstance(value, set | frozenset):
            items.sort(key=lambda a: a.uri if isinstance(a, Asset) else "")
        return AssetSchedule(tuple(items))
    return None


def validate_outlets(outlets: Iterable[Any] | None, where: str) -> list[Asset]:
    """A task's ``outlets`` as a list of Assets; anything else is a DagDefinitionError."""
    if outlets is None:
        return []
    if isinstance(outlets, Asset):
        return [outlets]
    if isinstance(outlets, str | bytes) or not isinstance(outlets, Iterable):
        raise DagDefinitionError(
            f"{where}: outlets must be a list of Asset objects, got {type(outlets).__name__}"
        )
    from millstream.authoring.asset_expressions import AssetAlias

    found: list[Asset] = []
    for item in outlets:
        if isinstance(item, AssetAlias):
            continue  # its assets are named at run time, through outlet_events
        if not isinstance(item, Asset):
            hint = f" (write Asset({item!r}))" if isinstance(item, str) else ""
            raise DagDefinitionError(
                f"{where}: outlets may hold only Asset objects, got {item!r} of type "
                f"{type(item).__name__}{hint}"
            )
        if item not in found:
            found.append(item)
    return found


__all__ = ["Asset", "AssetSchedule", "AssetTriggered", "asset_schedule", "check_extra",
           "validate_outlets"]
