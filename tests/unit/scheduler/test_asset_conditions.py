"""Asset conditions (``|``, ``&``) and asset-or-time schedules on the scheduler."""

from __future__ import annotations

from datetime import timedelta

from millstream import DAG, Asset
from millstream.authoring.asset_expressions import AssetOrTimeSchedule
from millstream.operators.empty import EmptyOperator
from millstream.parsing.serialize import DagStructure, serialize_dag

from .harness import START
from .test_assets import AssetWorld, _producer

A, B, C = Asset("lake.a"), Asset("lake.b"), Asset("lake.c")


def _consumer(dag_id: str, schedule: object) -> DAG:
    with DAG(dag_id, schedule=schedule, start_date=START) as dag:
        EmptyOperator(task_id="report")
    return dag


def test_either_asset_or_both_of_two_others_make_a_run() -> None:
    make_a, make_b, make_c = (_producer(n, asset) for n, asset in
                              (("make_a", A), ("make_b", B), ("make_c", C)))
    consumer = _consumer("report", A | (B & C))
    world = AssetWorld(make_a, make_b, make_c, consumer)
    world.produce(make_b, minutes=1)
    assert world.schedule() == []  # b alone meets neither side
    world.produce(make_c, minutes=1)
    (first,) = world.schedule()  # b and c
    assert sorted(e.uri for e in world.store.assets.run_events("report", first.run_id)) == [
        B.uri, C.uri]
    world.produce(make_a, minutes=1)
    (second,) = world.schedule()  # a alone
    assert [e.uri for e in world.store.assets.run_events("report", second.run_id)] == [A.uri]
    assert world.schedule() == []


def test_an_asset_or_time_schedule_runs_on_the_clock_and_on_its_assets() -> None:
    make_a = _producer("make_a", A)
    consumer = _consumer("daily_or_a", AssetOrTimeSchedule(timetable="@daily", assets=[A]))
    world = AssetWorld(make_a, consumer)
    world.produce(make_a, minutes=1)
    (run,) = world.schedule()
    assert run.run_type == "asset_triggered"
    timetable = world.dags["daily_or_a"].timetable
    due = timetable.next_interval(None, START, None, True, START + timedelta(days=1, hours=1))
    assert due is not None and due.start == START


def test_conditions_survive_serialization() -> None:
    dag = _consumer("serialized", A | (B & C))
    structure = DagStructure(serialize_dag(dag))
    assert structure.timetable.is_due({"lake.a"})
    assert structure.timetable.is_due({"lake.b", "lake.c"})
    assert not structure.timetable.is_due({"lake.b"})
    mixed = DagStructure(serialize_dag(_consumer(
        "mixed", AssetOrTimeSchedule(timetable="@hourly", assets=A & B))))
    assert isinstance(mixed.timetable, AssetOrTimeSchedule)
    assert mixed.timetable.uris == ("lake.a", "lake.b")
    assert not mixed.timetable.is_due({"lake.a"})


def test_a_manual_run_of_an_asset_or_time_schedule_covers_the_last_complete_interval() -> None:
    schedule = AssetOrTimeSchedule(timetable="@daily", assets=[A])
    moment = START + timedelta(days=3, hours=5)
    interval = schedule.manual_data_interval(moment)
    assert (interval.start, interval.end) == (START + timedelta(days=2), START + timedelta(days=3))
