"""The grid view's model: rows under their groups, a summary state per cell, duration bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from millstream import DAG, TaskGroup
from millstream.model.states import DagRunState, TaskState
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.parsing.serialize import DagStructure
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.ui.grid import build_grid, grid_rows, grid_states

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
    assert [c.bar for c in grid.columns] == [10, 2, 0]
    assert grid.cells == {}
