"""The grid view's model: rows under their groups, a summary state per cell, duration bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream import DAG, TaskGroup
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.parsing.serialize import DagStructure
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.ui.grid import build_grid, column_labels, grid_rows, grid_states, nice_ceiling

DAY = datetime(2026, 1, 1, tzinfo=UTC)


def structure() -> DagStructure:
    with DAG("grid_dag", start_date=DAY) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("outer") as outer:
            first = EmptyOperator(task_id="first")
            with TaskGroup("inner"):
                deep = EmptyOperator(task_id="deep")
            first >> deep
        fan = PythonOperator.partial(task_id="fan", python_callable=abs).expand(
            op_args=[[1], [2]])
        start >> outer >> fan
    return DagStructure.from_dag(dag)


def run(day: int, state: DagRunState, seconds: float | None) -> DagRunRecord:
    moment = DAY + timedelta(days=day)
    if seconds is None:
        return DagRunRecord("grid_dag", f"r{day}", moment, moment, moment, state=state)
    return DagRunRecord("grid_dag", f"r{day}", moment, moment, moment, state=state,
                        start_date=moment, end_date=moment + timedelta(seconds=seconds))


def ti(run_id: str, task_id: str, state: TaskState, map_index: int = -1) -> TaskInstanceRecord:
    return TaskInstanceRecord("grid_dag", run_id, task_id, map_index, state=state, try_number=1)


def test_rows_follow_the_groups() -> None:
    rows = grid_rows(structure())
    assert [(r.id, r.kind, r.label, r.depth, r.parent) for r in rows] == [
        ("start", "task", "start", 0, None),
        ("outer", "group", "outer", 0, None),
        ("outer.first", "task", "first", 1, "outer"),
        ("outer.inner", "group", "inner", 1, "outer"),
        ("outer.inner.deep", "task", "deep", 2, "outer.inner"),
        ("fan", "task", "fan", 0, None),
    ]
    assert rows[1].task_ids == ("outer.first", "outer.inner.deep")
    assert rows[-1].is_mapped and not rows[0].is_mapped


def test_cells_show_the_most_urgent_state_of_what_they_stand_for() -> None:
    runs = [run(1, DagRunState.RUNNING, None), run(0, DagRunState.SUCCESS, 30.0)]
    instances = [
        ti("r0", "start", TaskState.SUCCESS), ti("r0", "outer.first", TaskState.SUCCESS),
        ti("r0", "outer.inner.deep", TaskState.SUCCESS),
        ti("r0", "fan", TaskState.SUCCESS, 0), ti("r0", "fan", TaskState.SUCCESS, 1),
        ti("r1", "start", TaskState.SUCCESS), ti("r1", "outer.first", TaskState.RUNNING),
        ti("r1", "outer.inner.deep", TaskState.UP_FOR_RETRY),
        ti("r1", "fan", TaskState.SUCCESS, 0), ti("r1", "fan", TaskState.FAILED, 1),
    ]
    grid = build_grid(structure(), runs, instances)
    assert [c.run.run_id for c in grid.columns] == ["r0", "r1"]  # oldest first
    assert grid.cell("outer", "r0").state == "success"
    assert grid.cell("outer", "r1").state == "up_for_retry"
    assert grid.cell("outer.inner", "r1").state == "up_for_retry"
    assert (grid.cell("fan", "r1").state, grid.cell("fan", "r1").count) == ("failed", 2)
    assert grid.cell("start", "r1").try_number == 1
    assert grid.cell("nothing", "r1").state == "none"
    states = grid_states(grid)
    assert states["runs"] == [{"run_id": "r0", "state": "success", "bar": 10},
                              {"run_id": "r1", "state": "running", "bar": 0}]
    assert states["cells"]["outer.first"] == {"r0": "success", "r1": "running"}


def test_bars_scale_with_duration() -> None:
    runs = [run(0, DagRunState.SUCCESS, 100.0), run(1, DagRunState.FAILED, 25.0),
            run(2, DagRunState.QUEUED, None)]
    grid = build_grid(structure(), runs, [])
    # against an axis topped by a round duration: 100 s of 2 minutes
    assert grid.axis_max == 120.0
    assert [c.bar for c in grid.columns] == [8, 2, 0]
    assert grid.axis_ticks == [(10, 120.0), (5, 60.0), (0, 0.0)]
    assert grid.cells == {}


def test_axis_tops_are_round_durations() -> None:
    assert [nice_ceiling(s) for s in (0.3, 0.9, 1.0, 1.2, 4.0, 7.0, 30.0, 45.0, 61.0, 200.0,
                                      3000.0, 3700.0, 9000.0)] == [
        0.3, 1.0, 1.0, 2.0, 5.0, 10.0, 30.0, 45.0, 120.0, 300.0, 3600.0, 7200.0, 9000.0]
    assert nice_ceiling(0) == 0.0


def test_run_headers_are_unique_and_show_the_run_type() -> None:
    same_minute = DAY + timedelta(hours=6)
    runs = [
        DagRunRecord("grid_dag", "scheduled__a", same_minute, same_minute, same_minute,
                     "scheduled"),
        DagRunRecord("grid_dag", "manual__b", same_minute + timedelta(seconds=20), same_minute,
                     same_minute, "manual"),
        DagRunRecord("grid_dag", "manual__c", DAY + timedelta(days=1), same_minute, same_minute,
                     "backfill"),
    ]
    grid = build_grid(structure(), runs, [])
    assert [(c.label, c.type_mark) for c in grid.columns] == [
        ("01-01 06:00:00", "S"), ("01-01 06:00:20", "M"), ("01-02 00:00", "B")]
    twins = [DagRunRecord("grid_dag", f"r{i}", same_minute, same_minute, same_minute)
             for i in range(2)]
    assert column_labels(twins) == ["01-01 06:00:00", "01-01 06:00:00 #2"]


def test_cells_carry_their_try_and_times_for_the_hover_card() -> None:
    runs = [run(0, DagRunState.RUNNING, None)]
    started = DAY + timedelta(minutes=1)
    instances = [
        TaskInstanceRecord("grid_dag", "r0", "start", state=TaskState.SUCCESS, try_number=2,
                           start_date=started, end_date=started + timedelta(seconds=90)),
        TaskInstanceRecord("grid_dag", "r0", "fan", 0, state=TaskState.SUCCESS, try_number=1,
                           start_date=started, end_date=started + timedelta(seconds=5)),
        TaskInstanceRecord("grid_dag", "r0", "fan", 1, state=TaskState.RUNNING, try_number=3,
                           start_date=started + timedelta(seconds=1)),
    ]
    grid = build_grid(structure(), runs, instances)
    start = grid.cell("start", "r0")
    assert (start.try_number, start.duration) == (2, 90.0)
    fan = grid.cell("fan", "r0")
    assert (fan.state, fan.count, fan.try_number, fan.start, fan.end) == (
        "running", 2, 3, started, None)  # still running: no end yet
    info = grid_states(grid)["info"]
    assert info["start"]["r0"] == [2, "1m 30s", "01-01 00:01:00", "01-01 00:02:30"]
    assert info["fan"]["r0"] == [3, "\u2013", "01-01 00:01:00", ""]
    assert "outer" not in info  # groups have no card facts
