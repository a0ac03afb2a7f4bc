"""The login throttle's rules: allowances, doubling lockouts, the cap, forgetting, bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from millstream.model.login_throttle import LoginThrottle, ThrottlePolicy

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = timedelta(seconds=1)
POLICY = ThrottlePolicy(failures_per_account=3, failures_per_address=5,
                        base_lockout=10 * S, max_lockout=60 * S)


def fail(throttle: LoginThrottle, times: int, username: str = "ann",
         address: str = "10.0.0.1", at: datetime = T0) -> list[timedelta]:
    return [throttle.failed(username, address, at) for _ in range(times)]


def test_failures_within_the_allowance_lock_nothing() -> None:
    throttle = LoginThrottle(POLICY)
    assert fail(throttle, 2) == [timedelta(0)] * 2
    assert throttle.wait("ann", "10.0.0.1", T0) == timedelta(0)


def test_reaching_the_allowance_locks_the_account_and_each_failure_doubles_it_to_the_cap() -> None:
    throttle = LoginThrottle(POLICY)
    lockouts = fail(throttle, 7)
    assert lockouts == [timedelta(0), timedelta(0), 10 * S, 20 * S, 40 * S, 60 * S, 60 * S]
    assert throttle.wait("ann", "10.0.0.1", T0) == 60 * S
    assert throttle.wait("ann", "10.0.0.1", T0 + 59 * S) == S
    assert throttle.wait("ann", "10.0.0.1", T0 + 60 * S) == timedelta(0)


def test_a_locked_account_is_locked_from_every_address_and_the_name_ignores_case() -> None:
    throttle = LoginThrottle(POLICY)
    fail(throttle, 3)
    assert throttle.wait("ANN", "192.168.1.9", T0 + S) == 9 * S
    assert throttle.wait("bob", "192.168.1.9", T0 + S) == timedelta(0)


def test_an_address_guessing_many_accounts_is_locked_after_its_own_allowance() -> None:
    throttle = LoginThrottle(POLICY)
    lockouts = [throttle.failed(f"user{i}", "10.0.0.66", T0) for i in range(6)]
    assert lockouts == [timedelta(0)] * 4 + [10 * S, 20 * S]
    assert throttle.wait("somebody-else", "10.0.0.66", T0) == 20 * S
    assert throttle.wait("somebody-else", "10.0.0.67", T0) == timedelta(0)


def test_a_success_clears_the_account_and_the_address() -> None:
    throttle = LoginThrottle(POLICY)
    fail(throttle, 2)
    throttle.succeeded("ann", "10.0.0.1")
    assert fail(throttle, 2) == [timedelta(0)] * 2


def test_a_count_is_forgotten_after_a_quiet_longest_lockout() -> None:
    throttle = LoginThrottle(POLICY)
    fail(throttle, 2)
    later = T0 + 61 * S
    assert throttle.failed("ann", "10.0.0.1", later) == timedelta(0)  # counts from 1 again
    # But not while locked: the quiet time starts when the lockout ends.
    fail(throttle, 3, at=later)
    assert throttle.wait("ann", "10.0.0.1", later + 15 * S) > timedelta(0)


def test_a_flood_of_made_up_usernames_keeps_memory_bounded() -> None:
    throttle = LoginThrottle(ThrottlePolicy(failures_per_address=10**6, max_keys=100))
    for i in range(1000):
        throttle.failed(f"u{i}", "10.0.0.1", T0 + i * timedelta(milliseconds=1))
    assert len(throttle._counts) <= 100


def test_the_lockout_doubling_never_overflows() -> None:
    assert POLICY.lockout(10**9, 3) == 60 * S


@pytest.mark.parametrize("changes", [
    {"failures_per_account": 0}, {"failures_per_address": 0}, {"base_lockout": timedelta(0)},
    {"base_lockout": 10 * S, "max_lockout": 5 * S}, {"max_keys": 1},
])
def test_a_policy_that_makes_no_sense_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ThrottlePolicy(**changes)  # type: ignore[arg-type]
