"""BashSensor, DayOfWeekSensor and TimeSensor through dag.test() on its fast clock."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from millstream import DAG
from millstream.exceptions import DagDefinitionError
from millstream.operators.bash import BashOperator
from millstream.operators.branch import WeekDay
from millstream.sensors.bash import BashSensor, DayOfWeekSensor
from millstream.sensors.time import TimeSensor, TimeSensorAsync

DAY = datetime(2026, 1, 1, tzinfo=UTC)  # a Thursday


def test_bash_sensor_waits_for_exit_code_zero(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    with DAG("bash_sensor", schedule=None) as dag:
        BashSensor(task_id="wait", bash_command=f"test -e {flag} || {{ touch {flag}; exit 1; }}",
                   poke_interval=60)
    result = dag.test(DAY, fast_retries=True)
    assert result.task_states == {"wait": "success"}


def test_bash_sensor_with_retry_exit_code_fails_on_another_code() -> None:
    with DAG("bash_sensor_fail", schedule=None) as dag:
        BashSensor(task_id="wait", bash_command="exit 3", retry_exit_code=1, poke_interval=60)
        BashSensor(task_id="soft", bash_command="exit 1", timeout=120, poke_interval=60,
                   soft_fail=True)
    result = dag.test(DAY, fast_retries=True)
    assert result.task_states == {"wait": "failed", "soft": "skipped"}


@pytest.mark.parametrize(("week_day", "expected"), [
    (WeekDay.THURSDAY, "success"), ({"monday", "tuesday"}, "skipped"),
])
def test_day_of_week_sensor_on_the_logical_date(week_day: object, expected: str) -> None:
    with DAG("weekday_sensor", schedule=None) as dag:
        DayOfWeekSensor(task_id="day", week_day=week_day, use_task_logical_date=True,
                        timeout=120, poke_interval=60, soft_fail=True)
    assert dag.test(DAY, fast_retries=True).task_states == {"day": expected}


def test_day_of_week_sensor_checks_its_days() -> None:
    with DAG("weekday_bad"), pytest.raises(DagDefinitionError, match="week_day"):
        DayOfWeekSensor(task_id="day", week_day=[])


@pytest.mark.parametrize("sensor", [TimeSensor, TimeSensorAsync])
def test_time_sensor_waits_for_the_time_on_the_run_date(sensor: type[TimeSensor]) -> None:
    with DAG("time_sensor", schedule=None) as dag:
        wait = sensor(task_id="wait", target_time=time(6, 30), poke_interval=600)
        wait >> BashOperator(task_id="after", bash_command="echo done")
    result = dag.test(DAY, fast_retries=True)
    assert result.task_states == {"wait": "success", "after": "success"}


def test_time_sensor_target_is_on_the_date_the_interval_ends() -> None:
    with DAG("time_target", schedule=None):
        wait = TimeSensor(task_id="wait", target_time=time(6, 30))
    target = wait.target({"data_interval_end": datetime(2026, 3, 4, 23, tzinfo=UTC)})
    assert target == datetime(2026, 3, 4, 6, 30, tzinfo=UTC)
    with DAG("time_bad"), pytest.raises(DagDefinitionError, match=r"datetime\.time"):
        TimeSensor(task_id="wait", target_time="06:30")  # type: ignore[arg-type]
