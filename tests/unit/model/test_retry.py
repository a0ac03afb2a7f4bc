"""Tests of retry delays, exponential backoff with jitter, and retry counting."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from millstream.model.retry import MAX_RETRY_DELAY, next_retry_at, retries_left, retry_delay

FIVE_MIN = timedelta(minutes=5)
TEN_S = timedelta(seconds=10)


@pytest.mark.parametrize("try_number", [1, 2, 3, 10, 1000])
def test_without_backoff_the_delay_is_constant(try_number: int) -> None:
    assert retry_delay(try_number, FIVE_MIN) == FIVE_MIN


def test_without_backoff_caps_do_not_apply() -> None:
    long = timedelta(days=3)
    assert retry_delay(2, long, max_delay=timedelta(hours=1)) == long


@pytest.mark.parametrize(
    ("try_number", "expected"),
    [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (12, 20480)],
)
def test_backoff_doubles_without_jitter(try_number: int, expected: int) -> None:
    assert retry_delay(try_number, TEN_S, exponential_backoff=True) == timedelta(seconds=expected)


@pytest.mark.parametrize("try_number", range(1, 13))
def test_backoff_jitter_stays_below_double(try_number: int) -> None:
    minimum = TEN_S * 2 ** (try_number - 1)
    delay = retry_delay(try_number, TEN_S, True, jitter_key="etl/extract/manual__1")
    assert minimum <= delay < 2 * minimum


def test_jitter_is_deterministic_and_depends_on_the_key() -> None:
    key_a = [retry_delay(n, TEN_S, True, jitter_key="a") for n in range(1, 9)]
    assert key_a == [retry_delay(n, TEN_S, True, jitter_key="a") for n in range(1, 9)]
    key_b = [retry_delay(n, TEN_S, True, jitter_key="b") for n in range(1, 9)]
    assert key_a != key_b


def test_jitter_spreads_many_tasks() -> None:
    delays = {retry_delay(4, TEN_S, True, jitter_key=f"dag/task_{i}") for i in range(50)}
    assert len(delays) > 20


def test_jitter_is_whole_seconds_for_second_scale_delays() -> None:
    delay = retry_delay(3, TEN_S, True, jitter_key="k")
    assert delay.microseconds == 0


def test_sub_second_delays_back_off_too() -> None:
    base = timedelta(milliseconds=1)
    assert retry_delay(3, base, True) == timedelta(milliseconds=4)
    assert (
        timedelta(milliseconds=4)
        <= retry_delay(3, base, True, jitter_key="k")
        < (timedelta(milliseconds=8))
    )


def test_backoff_capped_by_max_delay() -> None:
    cap = timedelta(minutes=3)
    assert retry_delay(5, TEN_S, True, max_delay=cap) == timedelta(seconds=160)
    assert retry_delay(6, TEN_S, True, max_delay=cap) == cap
    assert retry_delay(6, TEN_S, True, max_delay=cap, jitter_key="k") == cap
    assert retry_delay(1, TEN_S, True, max_delay=cap) == TEN_S


def test_backoff_always_capped_at_a_day() -> None:
    assert retry_delay(30, TEN_S, True) == MAX_RETRY_DELAY
    assert retry_delay(30, TEN_S, True, jitter_key="k") == MAX_RETRY_DELAY
    assert retry_delay(30, TEN_S, True, max_delay=timedelta(days=7)) == MAX_RETRY_DELAY
    assert timedelta(hours=24) == MAX_RETRY_DELAY


def test_zero_caps_and_bases() -> None:
    assert retry_delay(3, TEN_S, True, max_delay=timedelta(0)) == timedelta(0)
    assert retry_delay(3, timedelta(0), True, jitter_key="k") == timedelta(0)
    assert retry_delay(3, timedelta(0)) == timedelta(0)


def test_huge_try_numbers_do_not_overflow_or_hang() -> None:
    began = time.perf_counter()
    for try_number in (63, 64, 1000, 10**6, 10**18):
        assert retry_delay(try_number, TEN_S, True, jitter_key="k") == MAX_RETRY_DELAY
        assert retry_delay(try_number, timedelta(days=9999), True) == MAX_RETRY_DELAY
    assert time.perf_counter() - began < 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_try_number_must_be_positive(bad: object) -> None:
    with pytest.raises(ValueError, match="try_number must be a positive integer"):
        retry_delay(bad, TEN_S)  # type: ignore[arg-type]


def test_negative_delays_are_rejected() -> None:
    with pytest.raises(ValueError, match="retry delay must not be negative"):
        retry_delay(1, -TEN_S)
    with pytest.raises(ValueError, match="max retry delay must not be negative"):
        retry_delay(1, TEN_S, True, max_delay=-TEN_S)


def test_next_retry_at_adds_the_delay() -> None:
    failed_at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert next_retry_at(failed_at, 1, FIVE_MIN) == datetime(2026, 1, 1, 12, 5, tzinfo=UTC)
    assert next_retry_at(failed_at, 3, TEN_S, True) == failed_at + timedelta(seconds=40)
    jittered = next_retry_at(failed_at, 3, TEN_S, True, None, "k")
    assert jittered == failed_at + retry_delay(3, TEN_S, True, jitter_key="k")


def test_next_retry_at_treats_naive_as_utc() -> None:
    result = next_retry_at(datetime(2026, 1, 1, 12), 1, FIVE_MIN)
    assert result == datetime(2026, 1, 1, 12, 5, tzinfo=UTC)
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("try_number", "retries", "expected"),
    [
        (1, 0, False),
        (1, 1, True),
        (2, 1, False),
        (1, 3, True),
        (3, 3, True),
        (4, 3, False),
        (10, 3, False),
    ],
)
def test_retries_left(try_number: int, retries: int, expected: bool) -> None:
    assert retries_left(try_number, retries) is expected


def test_retries_left_validates() -> None:
    with pytest.raises(ValueError, match="try_number"):
        retries_left(0, 1)
    with pytest.raises(ValueError, match="retries must be a non-negative integer"):
        retries_left(1, -1)
    with pytest.raises(ValueError, match="retries"):
        retries_left(1, None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

bases = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=2))
caps = st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2))
keys = st.none() | st.text(max_size=20)


@settings(max_examples=200, deadline=None)
@given(bases, caps, keys, st.integers(min_value=1, max_value=80))
def test_backoff_is_monotone_and_capped(
    base: timedelta, cap: timedelta | None, key: str | None, try_number: int
) -> None:
    this = retry_delay(try_number, base, True, cap, key)
    following = retry_delay(try_number + 1, base, True, cap, key)
    assert following >= this
    assert this <= MAX_RETRY_DELAY
    if cap is not None:
        assert this <= cap


@settings(max_examples=200, deadline=None)
@given(bases, keys, st.integers(min_value=1, max_value=60))
def test_backoff_never_below_the_unjittered_minimum(
    base: timedelta, key: str | None, try_number: int
) -> None:
    delay_us = retry_delay(try_number, base, True, None, key) // timedelta(microseconds=1)
    cap_us = MAX_RETRY_DELAY // timedelta(microseconds=1)
    minimum_us = (base // timedelta(microseconds=1)) * 2 ** (try_number - 1)
    assert min(minimum_us, cap_us) <= delay_us <= min(2 * minimum_us, cap_us)
    if delay_us < cap_us and minimum_us:
        assert delay_us < 2 * minimum_us
    if key is None:
        assert delay_us == min(minimum_us, cap_us)


@settings(max_examples=100, deadline=None)
@given(bases, st.integers(min_value=1, max_value=10**6))
def test_no_backoff_is_exactly_the_base(base: timedelta, try_number: int) -> None:
    assert retry_delay(try_number, base) == base
