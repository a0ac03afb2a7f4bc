"""BaseSensorOperator on its own: poke, reschedule and deferrable waiting, timeouts, soft_fail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from millstream.authoring.dag import DAG
from millstream.exceptions import (
    DagDefinitionError,
    SensorTimeout,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskDeferred,
    TaskFailedNoRetry,
    TaskRescheduled,
    TaskSkipped,
)
from millstream.sensors import BaseSensorOperator, PokeReturnValue, apply_defaults
from millstream.triggerer.clock import using_clock
from millstream.triggerer.triggers.time import DateTimeTrigger

from .clock import START, FakeTime


class CountingSensor(BaseSensorOperator):
    """Done at poke number ``done_at`` (never if 0), with the value ``value``."""

    def __init__(self, *, done_at: int = 0, value: Any = None, fail_with: Exception | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.done_at = done_at
        self.value = value
        self.fail_with = fail_with
        self.pokes = 0

    def poke(self, context: dict[str, Any]) -> bool | PokeReturnValue:
        self.pokes += 1
        if self.fail_with is not None:
            raise self.fail_with
        done = self.done_at and self.pokes >= self.done_at
        return PokeReturnValue(bool(done), self.value) if self.value is not None else bool(done)


class DeferringSensor(CountingSensor):
    def make_trigger(self, context: dict[str, Any]) -> DateTimeTrigger:
        return DateTimeTrigger(START + timedelta(hours=1))


@pytest.fixture
def fake() -> Iterator[FakeTime]:
    time = FakeTime()
    with using_clock(time.clock()):
        yield time


def context(start_date: datetime | None = None, reschedule_count: int = 0) -> dict[str, Any]:
    ti = SimpleNamespace(start_date=start_date, reschedule_count=reschedule_count)
    return {"ti": ti, "run_id": "manual__1", "map_index": -1}


# -- definition ------------------------------------------------------------------------------
def test_bad_settings_are_definition_errors_naming_the_task() -> None:
    with DAG("d", schedule=None):
        with pytest.raises(DagDefinitionError, match="DAG 'd', task 's': unknown sensor mode "
                                                     "'sleep'; expected one of 'poke', "
                                                     "'reschedule'"):
            CountingSensor(task_id="s", mode="sleep")
        with pytest.raises(DagDefinitionError, match="poke_interval must be a timedelta or a "
                                                     "non-negative number of seconds, got -1"):
            CountingSensor(task_id="s", poke_interval=-1)
        with pytest.raises(DagDefinitionError, match="timeout must not be negative"):
            CountingSensor(task_id="s", timeout=timedelta(seconds=-5))
        with pytest.raises(DagDefinitionError, match="CountingSensor does not support "
                                                     "deferrable=True: it defines no trigger"):
            CountingSensor(task_id="s", deferrable=True)
        sensor = DeferringSensor(task_id="ok", deferrable=True, poke_interval=5, timeout=60)
    assert (sensor.poke_interval, sensor.timeout, sensor.mode) == (
        timedelta(seconds=5), timedelta(seconds=60), "poke")


def test_sensor_settings_come_from_default_args() -> None:
    with DAG("d", schedule=None, default_args={"mode": "reschedule", "poke_interval": 30,
                                                "soft_fail": True}):
        sensor = CountingSensor(task_id="s")
    assert (sensor.mode, sensor.poke_interval, sensor.soft_fail) == (
        "reschedule", timedelta(seconds=30), True)


def test_an_airflow_style_sensor_with_apply_defaults_and_positional_arguments() -> None:
    class ApiAvailabilitySensor(BaseSensorOperator):
        @apply_defaults
        def __init__(self, endpoint_url, expected_status=200, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            self.endpoint_url = endpoint_url
            self.expected_status = expected_status

        def poke(self, context):  # type: ignore[no-untyped-def]
            return self.expected_status == 200

    with DAG("d", schedule=None, default_args={"retries": 1}):
        sensor = ApiAvailabilitySensor(task_id="wait_for_api", endpoint_url="http://x/health",
                                       poke_interval=30, timeout=600, mode="poke")
    assert (sensor.endpoint_url, sensor.expected_status, sensor.retries, sensor.timeout) == (
        "http://x/health", 200, 1, timedelta(seconds=600))


# -- poke mode -------------------------------------------------------------------------------
def test_poke_mode_sleeps_between_pokes_until_done(fake: FakeTime) -> None:
    sensor = CountingSensor(task_id="s", done_at=4, poke_interval=30)
    assert sensor.execute(context()) is None
    assert sensor.pokes == 4
    assert fake.sleeps == [timedelta(seconds=30)] * 3


def test_a_poke_return_value_becomes_the_sensors_xcom(fake: FakeTime) -> None:
    sensor = CountingSensor(task_id="s", done_at=2, value={"rows": 7}, poke_interval=1)
    assert sensor.execute(context()) == {"rows": 7}


def test_poke_mode_times_out_with_a_last_poke_at_the_timeout(fake: FakeTime) -> None:
    sensor = CountingSensor(task_id="s", poke_interval=40, timeout=100)
    with pytest.raises(SensorTimeout, match="sensor 's' timed out after 100 s") as caught:
        sensor.execute(context())
    assert isinstance(caught.value, TaskFailedNoRetry)  # a timeout is never retried
    assert fake.sleeps == [timedelta(seconds=40), timedelta(seconds=40), timedelta(seconds=20)]
    assert sensor.pokes == 4


def test_soft_fail_skips_on_timeout(fake: FakeTime) -> None:
    sensor = CountingSensor(task_id="s", poke_interval=10, timeout=20, soft_fail=True)
    with pytest.raises(TaskSkipped, match="soft_fail: sensor 's' timed out"):
        sensor.execute(context())


def test_exponential_backoff_grows_the_waits_up_to_max_wait(fake: FakeTime) -> None:
    sensor = CountingSensor(task_id="s", done_at=7, poke_interval=10, exponential_backoff=True,
                            max_wait=200)
    sensor.execute(context())
    waits = [w.total_seconds() for w in fake.sleeps]
    assert len(waits) == 6
    for number, wait in enumerate(waits, start=1):  # minimum doubles; jitter below it
        minimum = min(10 * 2 ** (number - 1), 200)
        assert minimum <= wait <= min(2 * minimum, 200)
    assert waits[-1] == 200


def test_silent_fail_counts_a_failing_poke_as_not_yet(fake: FakeTime) -> None:
    silent = CountingSensor(task_id="s", fail_with=ConnectionError("refused"), poke_interval=1,
                            timeout=2, silent_fail=True)
    with pytest.raises(SensorTimeout):
        silent.execute(context())
    assert silent.pokes == 3
    loud = CountingSensor(task_id="s", fail_with=ConnectionError("refused"))
    with pytest.raises(ConnectionError, match="refused"):
        loud.execute(context())


def test_soft_fail_skips_a_poke_that_fails_without_retry(fake: FakeTime) -> None:
    sensor = CountingSensor(task_id="s", fail_with=TaskFailedNoRetry("gone"), soft_fail=True)
    with pytest.raises(TaskSkipped, match="soft_fail: gone"):
        sensor.execute(context())


# -- reschedule mode -------------------------------------------------------------------------
def test_reschedule_mode_gives_the_slot_back_until_the_next_poke(fake: FakeTime) -> None:
    sensor = CountingSensor(task_id="s", mode="reschedule", poke_interval=60)
    with pytest.raises(TaskRescheduled) as caught:
        sensor.execute(context(start_date=START))
    assert caught.value.reschedule_date == START + timedelta(seconds=60)
    assert fake.sleeps == []  # it never sleeps in a worker
    done = CountingSensor(task_id="s", mode="reschedule", done_at=1, value="found")
    assert done.execute(context(start_date=START)) == "found"


def test_reschedule_mode_times_out_counting_from_the_first_poke(fake: FakeTime) -> None:
    first_poke = START - timedelta(seconds=90)
    sensor = CountingSensor(task_id="s", mode="reschedule", poke_interval=60, timeout=120)
    with pytest.raises(TaskRescheduled) as caught:  # 30 s are left: the next poke is then
        sensor.execute(context(start_date=first_poke, reschedule_count=1))
    assert caught.value.reschedule_date == START + timedelta(seconds=30)
    fake.now = START + timedelta(seconds=30)
    with pytest.raises(SensorTimeout, match="timed out after 120 s"):
        sensor.execute(context(start_date=first_poke, reschedule_count=2))
    soft = CountingSensor(task_id="s", mode="reschedule", timeout=120, soft_fail=True)
    with pytest.raises(TaskSkipped):
        soft.execute(context(start_date=first_poke, reschedule_count=2))


def test_reschedule_mode_backs_off_by_the_pokes_already_made(fake: FakeTime) -> None:
    sensor = CountingSensor(task_id="s", mode="reschedule", poke_interval=10,
                            exponential_backoff=True)
    waits = []
    for count in range(4):
        with pytest.raises(TaskRescheduled) as caught:
            sensor.execute(context(start_date=START, reschedule_count=count))
        waits.append((caught.value.reschedule_date - START).total_seconds())
    assert [10 * 2 ** n <= w < 10 * 2 ** (n + 1) for n, w in enumerate(waits)] == [True] * 4


# -- deferrable ------------------------------------------------------------------------------
def test_deferrable_pokes_once_then_defers_with_its_trigger_and_timeout(fake: FakeTime) -> None:
    sensor = DeferringSensor(task_id="s", deferrable=True, timeout=3600)
    with pytest.raises(TaskDeferred) as caught:
        sensor.execute(context())
    deferred = caught.value
    assert isinstance(deferred.trigger, DateTimeTrigger)
    assert deferred.trigger.moment == START + timedelta(hours=1)
    assert (deferred.method_name, deferred.kwargs, deferred.timeout) == (
        "execute_complete", {}, timedelta(hours=1))
    assert sensor.pokes == 1
    done = DeferringSensor(task_id="s", deferrable=True, done_at=1, value=5)
    assert done.execute(context()) == 5  # met at once: no deferral


def test_resuming_after_the_trigger_fired_succeeds(fake: FakeTime) -> None:
    sensor = DeferringSensor(task_id="s", deferrable=True)
    assert sensor.resume_execution("execute_complete", {"event": START}, context()) is None


@pytest.mark.parametrize("soft_fail", [False, True])
def test_a_deferral_timeout_fails_the_sensor_without_retry_or_skips_it(soft_fail: bool) -> None:
    sensor = DeferringSensor(task_id="s", deferrable=True, soft_fail=soft_fail)
    expected = TaskSkipped if soft_fail else SensorTimeout
    with pytest.raises(expected, match="did not fire"):
        sensor.resume_execution("__fail__", {"error": "did not fire", "timeout": True}, {})


@pytest.mark.parametrize("soft_fail", [False, True])
def test_a_failed_trigger_fails_the_sensor_or_skips_it(soft_fail: bool) -> None:
    sensor = DeferringSensor(task_id="s", deferrable=True, soft_fail=soft_fail)
    expected = TaskSkipped if soft_fail else TaskDeferralError
    with pytest.raises(expected, match="trigger failed: boom"):
        sensor.resume_execution("__fail__", {"error": "trigger failed: boom",
                                             "traceback": "Traceback ..."}, {})
    with pytest.raises(expected, match="the file vanished"):
        sensor.resume_execution("execute_complete",
                                {"event": {"status": "error", "message": "the file vanished"}}, {})


def test_any_operator_can_defer_and_resume_in_the_method_it_names() -> None:
    class Waiter(BaseSensorOperator):
        def execute(self, context: dict[str, Any]) -> Any:
            self.defer(trigger=DateTimeTrigger(START), method_name="done", kwargs={"x": 1},
                       timeout=30)

        def done(self, context: dict[str, Any], event: Any = None, x: int = 0) -> Any:
            return {"event": event, "x": x}

    waiter = Waiter(task_id="w", deferrable=True)
    with pytest.raises(TaskDeferred) as caught:
        waiter.execute({})
    assert (caught.value.kwargs, caught.value.timeout) == ({"x": 1}, timedelta(seconds=30))
    assert waiter.resume_execution("done", {"event": 3, "x": 1}, {}) == {"event": 3, "x": 1}
    with pytest.raises(TypeError, match="names no method"):
        waiter.defer(trigger=DateTimeTrigger(START), method_name="nope")
    with pytest.raises(TaskDeferralTimeout):
        BaseSensorOperator.__mro__[1].resume_execution(  # BaseOperator's: no sensor mapping
            waiter, "__fail__", {"error": "late", "timeout": True}, {})
