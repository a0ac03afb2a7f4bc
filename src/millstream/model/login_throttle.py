"""Login throttling: after a few wrong passwords, an account or a client address waits.

Each failed login counts against two keys: the username tried and the address it came
from. A key that reaches its allowance of failures is locked out, first for the base
lockout, then twice as long with each further failure, up to a cap. While either key of
an attempt is locked the attempt is refused before the password is even checked, so a
guessing client costs the server no hashing. A success clears the account's count and the
address's. A key's count is forgotten once it has had no failure for the longest lockout.

This module keeps the counts and decides; it does no I/O and takes the time as an argument.
It is not thread-safe on its own: the web server wraps it in a lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["LoginThrottle", "ThrottlePolicy"]


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures a key is allowed and how long the lockouts that follow last."""

    failures_per_account: int = 5
    failures_per_address: int = 20
    base_lockout: timedelta = timedelta(seconds=30)
    max_lockout: timedelta = timedelta(minutes=15)
    max_keys: int = 100_000

    def __post_init__(self) -> None:
        if self.failures_per_account < 1 or self.failures_per_address < 1:
            raise ValueError("the failures allowed per account and per address must be >= 1")
        if self.base_lockout <= timedelta(0) or self.max_lockout < self.base_lockout:
            raise ValueError("need 0 < base_lockout <= max_lockout")
        if self.max_keys < 2:
            raise ValueError("max_keys must be >= 2")

    def lockout(self, failures: int, allowed: int) -> timedelta:
        """How long a key with ``failures`` consecutive failures is locked out (0 if none)."""
        over = failures - allowed
        if over < 0:
            return timedelta(0)
        # Doubling past 2**20 only overflows; the cap is reached long before.
        doubled: timedelta = self.base_lockout * (2 ** min(over, 20))
        return min(doubled, self.max_lockout)


@dataclass
class _Count:
    failures: int
    last_failure: datetime
    locked_until: datetime


class LoginThrottle:
    """The failure counts of accounts and addresses under one :class:`ThrottlePolicy`."""

    def __init__(self, policy: ThrottlePolicy | None = None) -> None:
        self.policy = policy or ThrottlePolicy()
        self._counts: dict[tuple[str, str], _Count] = {}

    def wait(self, username: str, address: str, now: datetime) -> timedelta:
        """How long this attempt must wait before a password may be checked (0: go on)."""
        waits = [count.locked_until - now for count in self._live(username, address, now)]
        return max([timedelta(0), *waits])

    def failed(self, username: str, address: str, now: datetime) -> timedelta:
        """Count a wrong password; returns the lockout it starts (0 if it starts none)."""
        lockouts = []
        for key, allowed in self._keys(username, address):
            count = self._current(key, now)
            if count is None:
                count = self._counts[key] = _Count(0, now, now)
            count.failures += 1
            count.last_failure = now
            lockout = self.policy.lockout(count.failures, allowed)
            count.locked_until = now + lockout
            lockouts.append(lockout)
        self._bound(now)
        return max(lockouts)

    def succeeded(self, username: str, address: str) -> None:
        """A right password: the account and the address start afresh."""
        for key, _ in self._keys(username, address):
            self._counts.pop(key, None)

    def _keys(self, username: str, address: str) -> list[tuple[tuple[str, str], int]]:
        return [(("account", username.casefold()), self.policy.failures_per_account),
                (("address", address), self.policy.failures_per_address)]

    def _live(self, username: str, address: str, now: datetime) -> list[_Count]:
        counts = (self._current(key, now) for key, _ in self._keys(username, address))
        return [count for count in counts if count is not None]

    def _current(self, key: tuple[str, str], now: datetime) -> _Count | None:
        count = self._counts.get(key)
        if count is not None and self._forgotten(count, now):
            del self._counts[key]
            return None
        return count

    def _forgotten(self, count: _Count, now: datetime) -> bool:
        quiet_since = max(count.last_failure, count.locked_until)
        return now - quiet_since > self.policy.max_lockout

    def _bound(self, now: datetime) -> None:
        """Keep memory bounded against a flood of made-up usernames: drop what is forgotten,
        then, if still too many, the keys whose last failure is oldest."""
        if len(self._counts) <= self.policy.max_keys:
            return
        for key in [k for k, count in self._counts.items() if self._forgotten(count, now)]:
            del self._counts[key]
        excess = len(self._counts) - self.policy.max_keys // 2
        if excess > 0:
            oldest = sorted(self._counts, key=lambda k: self._counts[k].last_failure)
            for key in oldest[:excess]:
                del self._counts[key]
