"""The trigger runner: many triggers on one event loop; each ends alone, by event or error."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from millstream.store.trigger_records import TriggerRecord
from millstream.triggerer.base import BaseTrigger, serialize_trigger
from millstream.triggerer.loop import TriggerRunner
from millstream.triggerer.outcomes import TriggerOutcome

from .sample_triggers import (
    CLEANED,
    GateTrigger,
    RaisingTrigger,
    SilentTrigger,
    gate,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def record(trigger_id: int, trigger: BaseTrigger) -> TriggerRecord:
    classpath, kwargs = serialize_trigger(trigger)
    return TriggerRecord(trigger_id, classpath, kwargs, NOW)


def name() -> str:
    return f"gate-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def runner() -> Iterator[TriggerRunner]:
    started = TriggerRunner()
    started.start()
    yield started
    started.stop()


def collect(runner: TriggerRunner, count: int, limit: float = 10.0) -> list[TriggerOutcome]:
    """Outcomes until ``count`` have come (the limit only guards against a hang)."""
    found: list[TriggerOutcome] = []
    deadline = time.monotonic() + limit
    while len(found) < count:
        assert time.monotonic() < deadline, f"only {len(found)} of {count} outcomes: {found}"
        runner.wait(0.1)
        found.extend(runner.drain())
    return found


def test_many_triggers_run_at_once_and_each_fires_on_its_own(runner: TriggerRunner) -> None:
    names = [name() for _ in range(200)]
    runner.update({i: record(i, GateTrigger(n, {"i": i})) for i, n in enumerate(names)})
    assert runner.running() == set(range(200))
    for i in range(0, 200, 2):
        gate(names[i]).set()
    fired = collect(runner, 100)
    assert sorted(o.trigger_id for o in fired) == list(range(0, 200, 2))
    assert all(o.payload == {"name": names[o.trigger_id], "i": o.trigger_id} and o.error is None
               for o in fired)
    assert runner.running() == set(range(1, 200, 2))  # the others still wait


def test_a_trigger_that_raises_ends_only_itself(runner: TriggerRunner) -> None:
    other = name()
    runner.update({1: record(1, RaisingTrigger("the API is down")),
                   2: record(2, GateTrigger(other))})
    (failed,) = collect(runner, 1)
    assert failed.trigger_id == 1 and failed.error == "RuntimeError: the API is down"
    assert failed.traceback is not None and "the API is down" in failed.traceback
    assert runner.running() == {2}
    gate(other).set()
    (fired,) = collect(runner, 1)
    assert (fired.trigger_id, fired.payload, fired.error) == (2, {"name": other}, None)


def test_a_trigger_no_longer_wanted_is_cancelled_and_cleaned_up(runner: TriggerRunner) -> None:
    dropped, kept = name(), name()
    runner.update({1: record(1, GateTrigger(dropped)), 2: record(2, GateTrigger(kept))})
    runner.update({2: record(2, GateTrigger(kept))})
    deadline = time.monotonic() + 10
    while dropped not in CLEANED:
        assert time.monotonic() < deadline, "the dropped trigger was never cleaned up"
        time.sleep(0.01)
    assert runner.running() == {2}
    gate(dropped).set()
    gate(kept).set()
    outcomes = collect(runner, 1)
    assert [o.trigger_id for o in outcomes] == [2]  # the cancelled one reports nothing
    assert kept in CLEANED


def test_a_trigger_that_cannot_be_built_or_ends_silently_reports_an_error(
    runner: TriggerRunner,
) -> None:
    bad = TriggerRecord(1, "tests.unit.triggerer.sample_triggers.Missing", {}, NOW)
    wrong_kwargs = TriggerRecord(2, "tests.unit.triggerer.sample_triggers.GateTrigger",
                                 {"colour": "red"}, NOW)
    runner.update({1: bad, 2: wrong_kwargs, 3: record(3, SilentTrigger())})
    outcomes = {o.trigger_id: o for o in collect(runner, 3)}
    assert outcomes[1].error is not None and "cannot build" in outcomes[1].error
    assert "is not a BaseTrigger subclass" in outcomes[1].error
    assert outcomes[2].error is not None and "unexpected keyword argument 'colour'" in (
        outcomes[2].error)
    assert outcomes[3].error == "<SilentTrigger()> ended without an event"
    assert runner.running() == set()


def test_an_ended_trigger_is_not_started_again_while_still_wanted(
    runner: TriggerRunner,
) -> None:
    # Its outcome may not be recorded in the store yet, so the owner still lists it.
    opened = name()
    gate(opened).set()
    wanted = {1: record(1, GateTrigger(opened))}
    runner.update(wanted)
    assert [o.trigger_id for o in collect(runner, 1)] == [1]
    runner.update(wanted)
    assert runner.running() == set()
    assert not runner.wait(0.2) and runner.drain() == []
    runner.update({})  # recorded and gone from the store: forgotten
    runner.update(wanted)  # the same id again is a new trigger
    assert [o.trigger_id for o in collect(runner, 1)] == [1]


def test_requeued_outcomes_are_drained_again_first(runner: TriggerRunner) -> None:
    opened = name()
    gate(opened).set()
    runner.update({7: record(7, GateTrigger(opened))})
    outcomes = collect(runner, 1)
    runner.requeue(outcomes)
    assert runner.wait(0) and runner.drain() == outcomes


def test_stop_cancels_every_trigger_and_runs_its_cleanup() -> None:
    runner = TriggerRunner()
    runner.start()
    names = [name() for _ in range(3)]
    runner.update({i: record(i, GateTrigger(n)) for i, n in enumerate(names)})
    runner.stop()
    assert set(names) <= set(CLEANED)
    assert runner.running() == set()
    with pytest.raises(RuntimeError, match="not started"):
        runner.update({})
