"""The batched-tick policy: when a scheduler waiting for executor events stops waiting."""

from __future__ import annotations

import pytest

from millstream.model.gathering import HOLD_S, EventGathering


def test_without_events_the_wait_lasts_until_the_deadline() -> None:
    gathering = EventGathering(prefetch=8)
    assert gathering.wait_until(now=1.0, deadline=3.0, events_ready=False, waiting=8) == 3.0


@pytest.mark.parametrize("waiting", [0, 1, 5])
def test_without_prefetch_the_first_event_ends_the_wait(waiting: int) -> None:
    gathering = EventGathering(prefetch=0)
    assert gathering.wait_until(1.0, 3.0, events_ready=True, waiting=waiting) is None


@pytest.mark.parametrize(("prefetch", "waiting"), [(8, 0), (8, 1), (8, 2), (4, 1), (3, 0)])
def test_few_workloads_waiting_for_a_slot_end_the_wait_at_once(prefetch: int,
                                                                waiting: int) -> None:
    gathering = EventGathering(prefetch)
    assert gathering.wait_until(1.0, 3.0, events_ready=True, waiting=waiting) is None


def test_with_slots_fed_from_the_prefetch_events_wait_for_others_up_to_the_hold() -> None:
    gathering = EventGathering(prefetch=8)
    assert gathering.wait_until(1.0, 3.0, True, waiting=3) == pytest.approx(1.0 + HOLD_S)
    # Later looks keep the first event's moment: the hold does not start again.
    assert gathering.wait_until(1.0 + HOLD_S / 2, 3.0, True, waiting=6) == pytest.approx(
        1.0 + HOLD_S)
    assert gathering.wait_until(1.0 + HOLD_S, 3.0, True, waiting=6) is None


def test_the_queue_running_low_ends_a_hold_early() -> None:
    gathering = EventGathering(prefetch=8)
    assert gathering.wait_until(1.0, 3.0, True, waiting=5) is not None
    assert gathering.wait_until(1.001, 3.0, True, waiting=2) is None


def test_the_hold_never_outlasts_the_callers_deadline() -> None:
    gathering = EventGathering(prefetch=8)
    assert gathering.wait_until(1.0, 1.001, True, waiting=8) == pytest.approx(1.001)
    assert gathering.wait_until(1.001, 1.001, True, waiting=8) is None


def test_a_new_batch_starts_its_own_hold_after_the_last_one_ended_or_was_taken() -> None:
    gathering = EventGathering(prefetch=8, hold_s=0.01)
    assert gathering.wait_until(1.0, 9.0, True, waiting=8) == pytest.approx(1.01)
    assert gathering.wait_until(1.02, 9.0, True, waiting=8) is None  # held long enough
    assert gathering.wait_until(2.0, 9.0, True, waiting=8) == pytest.approx(2.01)
    gathering.forget()  # a tick drained the events
    assert gathering.wait_until(3.0, 9.0, True, waiting=8) == pytest.approx(3.01)
    assert gathering.wait_until(4.0, 9.0, False, waiting=8) == 9.0
    assert gathering.wait_until(5.0, 9.0, True, waiting=8) == pytest.approx(5.01)
