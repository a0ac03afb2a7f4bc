"""Asset aliases, conditions on assets (``|`` and ``&``), asset-or-time schedules, and the
objects a task uses to describe the asset events it emits (``Metadata``).

``schedule=(a | (b & c))`` runs the DAG once ``a`` has been updated, or both ``b`` and
``c`` have, since its last asset-triggered run. A list of assets means all of them. An
:class:`AssetAlias` names assets a task decides on at run time
(``outlet_events[AssetAlias("x")].add(Asset(...))``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from millstream.authoring.assets import Asset, AssetSchedule, AssetTriggered, check_extra
from millstream.exceptions import DagDefinitionError
from millstream.model.intervals import DataInterval, Schedule


class _Combinable:
    """What can be combined with ``|`` (either) and ``&`` (both) into an asset condition."""

    __slots__ = ()

    def __or__(self, other: object) -> AssetAny:
        return AssetAny(self, other)

    def __ror__(self, other: object) -> AssetAny:
        return AssetAny(other, self)

    def __and__(self, other: object) -> AssetAll:
        return AssetAll(self, other)

    def __rand__(self, other: object) -> AssetAll:
        return AssetAll(other, self)


class AssetAlias(_Combinable):
    """A name for assets a task decides on at run time, as Airflow's ``AssetAlias``.

    A task with ``outlets=[AssetAlias("x")]`` adds events with
    ``outlet_events[AssetAlias("x")].add(Asset(...), extra={...})``.
    """

    __slots__ = ("group", "name")

    def __init__(self, name: str, group: str = "asset") -> None:
        if not isinstance(name, str) or not name.strip():
            raise DagDefinitionError(f"an AssetAlias needs a non-empty name, got {name!r}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "group", group)

    name: str
    group: str

    def __setattr__(self, attribute: str, value: object) -> None:
        raise AttributeError(f"{self!r} cannot be changed")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetAlias) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("alias", self.name))

    def __repr__(self) -> str:
        return f"AssetAlias({self.name!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (AssetAlias, (self.name, self.group))


class _Condition(_Combinable):
    """Several assets, aliases or conditions, of which any (or all) must have been updated."""

    __slots__ = ("objects",)
    _word = ""

    def __init__(self, *objects: object) -> None:
        for item in objects:
            if not isinstance(item, Asset | AssetAlias | _Condition):
                raise DagDefinitionError(
                    f"an asset condition combines Assets, AssetAliases and conditions, got "
                    f"{item!r} of type {type(item).__name__}")
        self.objects: tuple[Any, ...] = tuple(objects)

    def iter_assets(self) -> Iterator[Asset]:
        """Every Asset in the condition, each once, in the order written."""
        seen: set[str] = set()
        for item in self.objects:
            leaves = item.iter_assets() if isinstance(item, _Condition) else (
                [item] if isinstance(item, Asset) else [])
            for asset in leaves:
                if asset.uri not in seen:
                    seen.add(asset.uri)
                    yield asset

    def _values(self, updated: Mapping[str, bool]) -> Iterator[bool]:
        for item in self.objects:
            if isinstance(item, _Condition):
                yield item.evaluate(updated)
            elif isinstance(item, Asset):
                yield bool(updated.get(item.uri))
            else:  # an alias: its assets are known only once events came through it
                yield bool(updated.get(f"alias:{item.name}"))

    def evaluate(self, updated: Mapping[str, bool]) -> bool:
        raise NotImplementedError

    def as_json(self) -> dict[str, Any]:
        def one(item: Any) -> dict[str, Any]:
            if isinstance(item, _Condition):
                return item.as_json()
            if isinstance(item, Asset):
                return {"asset": item.as_json()}
            return {"alias": item.name, "group": item.group}

        return {self._word: [one(item) for item in self.objects]}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.objects == self.objects  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self._word, self.objects))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.objects))})"


class AssetAny(_Condition):
    """Either of its assets (or conditions) updated: ``a | b``."""

    __slots__ = ()
    _word = "any"

    def evaluate(self, updated: Mapping[str, bool]) -> bool:
        return any(self._values(updated))

    def __or__(self, other: object) -> AssetAny:
        return AssetAny(*self.objects, other)


class AssetAll(_Condition):
    """All of its assets (or conditions) updated: ``a & b``, or a list of assets."""

    __slots__ = ()
    _word = "all"

    def evaluate(self, updated: Mapping[str, bool]) -> bool:
        return all(self._values(updated))

    def __and__(self, other: object) -> AssetAll:
        return AssetAll(*self.objects, other)


def condition_from_json(data: Mapping[str, Any]) -> Any:
    """The condition :meth:`_Condition.as_json` wrote."""
    if "asset" in data:
        return Asset.from_json(data["asset"])
    if "alias" in data:
        return AssetAlias(data["alias"], data.get("group", "asset"))
    kind = AssetAny if "any" in data else AssetAll
    return kind(*(condition_from_json(item) for item in data["any" if "any" in data else "all"]))


def condition_schedule(value: Any) -> AssetSchedule | None:
    """The schedule on a condition, an alias, or a list holding aliases or conditions."""
    if isinstance(value, AssetAlias):
        value = AssetAll(value)
    elif isinstance(value, list | tuple) and any(
            isinstance(item, AssetAlias | _Condition) for item in value):
        value = AssetAll(*value)
    if not isinstance(value, _Condition):
        return None
    return AssetSchedule(tuple(value.iter_assets()), condition=value)


class AssetOrTimeSchedule(Schedule, AssetTriggered):
    """Runs on a time schedule and also whenever its asset condition is met (Airflow's
    ``AssetOrTimeSchedule(timetable=..., assets=...)``)."""

    __slots__ = ("assets_schedule", "timetable")

    def __init__(self, *, timetable: Any, assets: Any) -> None:
        from millstream.authoring.assets import asset_schedule
        from millstream.authoring.timetables import as_schedule

        self.timetable: Schedule = as_schedule(timetable)
        on_assets = asset_schedule(assets)
        if on_assets is None:
            raise DagDefinitionError(
                f"AssetOrTimeSchedule: assets must be an Asset, a condition or a list of "
                f"assets, got {assets!r}")
        self.assets_schedule: AssetSchedule = on_assets

    @property
    def assets(self) -> tuple[Asset, ...]:
        return self.assets_schedule.assets

    @property
    def condition(self) -> Any:
        return self.assets_schedule.condition

    def is_due(self, updated: Mapping[str, bool] | set[str]) -> bool:
        return self.assets_schedule.is_due(updated)

    def data_interval_for(self, logical_date: datetime) -> DataInterval:
        return self.timetable.data_interval_for(logical_date)

    def manual_data_interval(self, run_after: datetime) -> DataInterval:
        return self.timetable.manual_data_interval(run_after)

    def next_interval(self, last: DataInterval | None, start_date: datetime | None,
                      end_date: datetime | None, catchup: bool,
                      now: datetime) -> DataInterval | None:
        return self.timetable.next_interval(last, start_date, end_date, catchup, now)

    def next_run_after(self, moment: datetime, *, start_date: datetime | None = None,
                       end_date: datetime | None = None) -> datetime | None:
        return self.timetable.next_run_after(moment, start_date=start_date, end_date=end_date)

    def __str__(self) -> str:
        return f"{self.timetable} or {self.assets_schedule}"

    def __repr__(self) -> str:
        return f"AssetOrTimeSchedule(timetable={self.timetable!r}, assets={self.condition!r})"


class Metadata:
    """Extra information for the event of an asset a task updates (Airflow's ``Metadata``):
    ``yield Metadata(asset, {"rows": 10})`` from the task."""

    __slots__ = ("alias", "asset", "extra")

    def __init__(self, asset: Asset | AssetAlias | str, extra: Mapping[str, Any] | None = None,
                 alias: AssetAlias | None = None) -> None:
        self.asset = Asset(asset) if isinstance(asset, str) else asset
        self.extra = check_extra(extra, self.asset)
        self.alias = alias

    def __repr__(self) -> str:
        return f"Metadata({self.asset!r}, {self.extra!r})"


class AssetAccessControl:
    """Which teams may produce an asset (Airflow 3.3's multi-team deployments).

    Kept with the asset for Airflow files; millstream has no teams, so it restricts nothing.
    """

    def __init__(self, producer_teams: list[str] | None = None, allow_global: bool = True,
                 **options: Any) -> None:
        self.producer_teams = list(producer_teams or [])
        self.allow_global = allow_global
        self.options = options

    def __repr__(self) -> str:
        return (f"AssetAccessControl(producer_teams={self.producer_teams!r}, "
                f"allow_global={self.allow_global!r})")


__all__ = ["AssetAccessControl", "AssetAlias", "AssetAll", "AssetAny", "AssetOrTimeSchedule",
           "Metadata", "condition_from_json", "condition_schedule"]
