"""dag.test() with sensors in each mode: poke, reschedule and deferrable, on its fast clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from millstream import DAG
from millstream.operators.python import PythonOperator
from millstream.sensors import (
    BaseSensorOperator,
    DateTimeSensor,
    DateTimeSensorAsync,
    PokeReturnValue,
    PythonSensor,
    TimeDeltaSensor,
    TimeDeltaSensorAsync,
)
from millstream.triggerer.base import BaseTrigger
from millstream.triggerer.clock import current_clock

from ..triggerer.sample_triggers import RaisingTrigger

DAY = datetime(2026, 1, 1, tzinfo=UTC)
MODES: list[dict[str, Any]] = [{"mode": "poke"}, {"mode": "reschedule"}, {"deferrable": True}]
MODE_IDS = ["poke", "reschedule", "deferrable"]


class RaisingSensor(BaseSensorOperator):
    """Defers to a trigger that raises."""

    def make_trigger(self, context: dict[str, Any]) -> BaseTrigger:
        return RaisingTrigger(f"{self.task_id}: the upstream API is down")


def test_a_python_sensor_in_each_mode_succeeds_after_some_pokes() -> None:
    pokes: dict[str, list[datetime]] = {"poke": [], "reschedule": []}

    def ready(which: str) -> PokeReturnValue:
        pokes[which].append(current_clock().now())
        return PokeReturnValue(len(pokes[which]) == 3, {"found": which})

    with DAG("modes", schedule=None) as dag:
        poke = PythonSensor(task_id="poke", python_callable=ready, op_args=["poke"],
                            poke_interval=600)
        resched = PythonSensor(task_id="reschedule", python_callable=ready,
                               op_args=["reschedule"], mode="reschedule", poke_interval=600)
        deferred = TimeDeltaSensor(task_id="deferred", delta=timedelta(hours=6), deferrable=True)
        after = PythonOperator(task_id="after", python_callable=lambda: "ran")
        poke >> resched >> deferred >> after
    result = dag.test(DAY, fast_retries=True)
    assert result.state == "success", result.tasks
    assert [(t.label, t.state, t.tries) for t in result.tasks] == [
        ("poke", "success", 1), ("reschedule", "success", 1), ("deferred", "success", 1),
        ("after", "success", 1)]
    for which in pokes:  # ten minutes between pokes, skipped (real time adds microseconds)
        gaps = [round((b - a).total_seconds())
                for a, b in zip(pokes[which], pokes[which][1:], strict=False)]
        assert gaps == [600, 600], which
    assert result.xcom_pull("poke") == {"found": "poke"}
    assert result.xcom_pull("reschedule") == {"found": "reschedule"}


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_time_sensors_wait_for_their_moment_in_each_mode(mode: dict[str, Any]) -> None:
    seen: list[datetime] = []
    with DAG("times", schedule="@daily", start_date=DAY) as dag:
        delta = TimeDeltaSensor(task_id="delta", delta=timedelta(hours=3), poke_interval=60,
                                **mode)
        moment = DateTimeSensor(task_id="moment",
                                target_time="{{ data_interval_end.isoformat() }}",
                                poke_interval=60, **mode)
        check = PythonOperator(task_id="check",
                               python_callable=lambda: seen.append(current_clock().now()))
        delta >> moment >> check
    now = datetime.now(UTC).replace(microsecond=0)
    result = dag.test(now - timedelta(hours=24), fast_retries=True)
    assert result.state == "success", result.tasks
    # The daily interval ends at (about) now: it is three hours later when both have passed.
    assert seen and seen[0] >= result.run.data_interval_end + timedelta(hours=3)


def test_async_time_sensors_are_deferrable_by_default() -> None:
    with DAG("async", schedule=None) as dag:
        TimeDeltaSensorAsync(task_id="delta", delta=timedelta(minutes=5))
        DateTimeSensorAsync(task_id="moment", target_time=datetime.now(UTC) + timedelta(days=2))
    assert all(task.deferrable for task in dag.tasks)
    result = dag.test(DAY, fast_retries=True)
    assert result.task_states == {"delta": "success", "moment": "success"}


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_a_sensor_past_its_timeout_fails_without_retry_in_each_mode(
    mode: dict[str, Any],
) -> None:
    with DAG("late", schedule=None) as dag:
        DateTimeSensor(task_id="wait", target_time=datetime.now(UTC) + timedelta(days=30),
                       timeout=3600, poke_interval=300, retries=3, **mode)
    result = dag.test(DAY, fast_retries=True)
    (wait,) = result.tasks
    assert (result.state, wait.state, wait.tries) == ("failed", "failed", 1)
    assert wait.error is not None and wait.error.startswith("SensorTimeout: sensor 'wait'")


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_soft_fail_skips_a_sensor_past_its_timeout_and_its_downstream(
    mode: dict[str, Any],
) -> None:
    with DAG("soft", schedule=None) as dag:
        wait = DateTimeSensor(task_id="wait", target_time=datetime.now(UTC) + timedelta(days=30),
                              timeout=3600, poke_interval=300, soft_fail=True, **mode)
        after = PythonOperator(task_id="after", python_callable=lambda: None)
        wait >> after
    result = dag.test(DAY, fast_retries=True)
    assert result.task_states == {"wait": "skipped", "after": "skipped"}
    assert result.state == "success"


def test_a_trigger_that_raises_fails_only_its_task_after_its_retries() -> None:
    with DAG("broken", schedule=None) as dag:
        broken = RaisingSensor(task_id="broken", deferrable=True, retries=1,
                               retry_delay=timedelta(minutes=1))
        fine = TimeDeltaSensor(task_id="fine", delta=timedelta(minutes=30), deferrable=True)
        after_fine = PythonOperator(task_id="after_fine", python_callable=lambda: None)
        fine >> after_fine
        assert broken.deferrable
    result = dag.test(DAY, fast_retries=True)
    states = {t.label: (t.state, t.tries) for t in result.tasks}
    assert states == {"broken": ("failed", 2), "fine": ("success", 1),
                      "after_fine": ("success", 1)}
    error = next(t.error for t in result.tasks if t.label == "broken")
    assert error is not None
    assert "TaskDeferralError: trigger failed: RuntimeError: broken: the upstream API is down" in (
        error)
    assert "Traceback" in error  # the trigger's own traceback is kept


def test_a_deferrable_sensor_waits_in_real_time_without_the_fast_clock() -> None:
    target = datetime.now(UTC) + timedelta(milliseconds=300)
    with DAG("real", schedule=None) as dag:
        DateTimeSensor(task_id="wait", target_time=target, deferrable=True)
    result = dag.test(DAY)
    assert result.task_states == {"wait": "success"}
    assert datetime.now(UTC) >= target
