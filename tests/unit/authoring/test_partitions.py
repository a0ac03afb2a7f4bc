"""Airflow's asset partitions: the schedules they make (mappers are kept, not applied)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream import DAG, Asset
from millstream.authoring.assets import AssetSchedule
from millstream.authoring.partitions import (
    CronPartitionTimetable,
    PartitionedAssetTimetable,
    PartitionedAtRuntime,
    RollupMapper,
    StartOfDayMapper,
    WeekWindow,
    Window,
)
from millstream.model.intervals import DataInterval, NoSchedule
from millstream.parsing.serialize import DagStructure, serialize_dag

START = datetime(2026, 1, 5, tzinfo=UTC)


def test_a_cron_partition_timetable_runs_at_each_tick() -> None:
    dag = DAG("hourly", schedule=CronPartitionTimetable("0 * * * *", timezone="UTC"),
              start_date=START, catchup=True)
    structure = DagStructure(serialize_dag(dag))
    first = structure.timetable.next_interval(None, START, None, True, START + timedelta(hours=2))
    assert first == DataInterval(START, START)


def test_a_partitioned_asset_timetable_is_a_schedule_on_its_assets() -> None:
    a, b = Asset("part.a"), Asset("part.b")
    schedule = PartitionedAssetTimetable(
        assets=a & b, default_partition_mapper=RollupMapper(
            upstream_mapper=StartOfDayMapper(), window=WeekWindow(
                direction=Window.Direction.BACKWARD)))
    dag = DAG("rollup", schedule=schedule, start_date=START)
    assert isinstance(dag.timetable, AssetSchedule)
    assert dag.timetable.is_due({"part.a", "part.b"}) and not dag.timetable.is_due({"part.a"})


def test_partitioned_at_runtime_runs_only_when_triggered() -> None:
    dag = DAG("runtime", schedule=PartitionedAtRuntime(), start_date=START)
    assert isinstance(dag.timetable, NoSchedule)
    assert dag.timetable.next_interval(None, START, None, True, START + timedelta(days=9)) is None
    assert dag.test(logical_date=START).state == "success"
