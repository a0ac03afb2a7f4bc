"""Airflow 3's asset partitions, as far as millstream runs them.

Accepted, with the runs they make: ``CronPartitionTimetable`` runs at each cron tick (as
``CronTriggerTimetable``); ``PartitionedAssetTimetable(assets=...)`` runs when its assets
are updated (as a schedule on those assets, ``|`` and ``&`` included);
``PartitionedAtRuntime()`` runs only when triggered. Not done yet: a run has no partition
key (``dag_run.partition_key`` and the context's ``partition_key`` are None), so the
partition mappers, windows and wait policies are kept on the schedule but not applied,
and ``outlet_events[asset].add_partitions(...)`` is recorded on the accessor only.
"""

from __future__ import annotations

import enum
from typing import Any

from millstream.authoring.assets import AssetSchedule, asset_schedule
from millstream.authoring.timetables import CronTriggerTimetable
from millstream.exceptions import DagDefinitionError
from millstream.model.intervals import NoSchedule


class _Kept:
    """A partition mapper, window or wait policy: its arguments, kept for what uses them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        shown = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{type(self).__name__}({', '.join(shown)})"


class IdentityMapper(_Kept):
    """The downstream partition key is the upstream one."""


class StartOfHourMapper(_Kept):
    """A time key mapped to the start of its hour."""


class StartOfDayMapper(_Kept):
    """A time key mapped to the start of its day."""


class StartOfWeekMapper(_Kept):
    """A time key mapped to the start of its week."""


class StartOfMonthMapper(_Kept):
    """A time key mapped to the start of its month."""


class StartOfYearMapper(_Kept):
    """A time key mapped to the start of its year."""


class ProductMapper(_Kept):
    """A composite key (``a|b``) mapped part by part."""


class AllowedKeyMapper(_Kept):
    """Keys limited to a fixed set of values."""


class FixedKeyMapper(_Kept):
    """Every upstream key mapped to one key."""


class FanOutMapper(_Kept):
    """One upstream key mapped to several downstream keys."""


class RollupMapper(_Kept):
    """Upstream keys rolled up into a window before the downstream run."""


class Window(_Kept):
    """The upstream keys a rolled-up key waits for (``direction``: forward or backward)."""

    class Direction(enum.Enum):
        FORWARD = "forward"
        BACKWARD = "backward"


class DayWindow(Window):
    pass


class WeekWindow(Window):
    pass


class MonthWindow(Window):
    pass


class SegmentWindow(Window):
    pass


class WaitForAll(_Kept):
    """A rollup waits for every key of its window."""


class MinimumCount(_Kept):
    """A rollup runs once this many keys of its window arrived."""


class CronPartitionTimetable(CronTriggerTimetable):
    """A run at each cron tick (its partition key would be the tick)."""

    def __init__(self, cron: str, *, timezone: Any = "UTC", key_format: str | None = None,
                 **options: Any) -> None:
        super().__init__(cron, timezone=timezone)
        self.key_format = key_format
        self.options = options

    def serialize(self) -> dict[str, Any]:
        return {**super().serialize(), "key_format": self.key_format}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> CronPartitionTimetable:
        return cls(data["cron"], timezone=data["timezone"], key_format=data.get("key_format"))


def PartitionedAssetTimetable(  # named as the Airflow class it stands for
        *, assets: Any, default_partition_mapper: Any = None,
        partition_mapper_config: dict[Any, Any] | None = None) -> AssetSchedule:
    """A schedule on ``assets`` (the mappers are kept, not applied: see the module)."""
    schedule = asset_schedule(assets)
    if schedule is None:
        raise DagDefinitionError(
            f"PartitionedAssetTimetable: assets must be an Asset, a condition or a list of "
            f"assets, got {assets!r}")
    return schedule


class PartitionedAtRuntime(NoSchedule):
    """No scheduled runs: the task names the partitions it made at run time."""


__all__ = [
    "AllowedKeyMapper", "CronPartitionTimetable", "DayWindow", "FanOutMapper",
    "FixedKeyMapper", "IdentityMapper", "MinimumCount", "MonthWindow",
    "PartitionedAssetTimetable", "PartitionedAtRuntime", "ProductMapper", "RollupMapper",
    "SegmentWindow", "StartOfDayMapper", "StartOfHourMapper", "StartOfMonthMapper",
    "StartOfWeekMapper", "StartOfYearMapper", "WaitForAll", "WeekWindow", "Window",
]
