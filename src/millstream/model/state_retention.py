"""How long a task state store key is kept: ``retention`` -> its expiry time (pure logic).

``task_state_store.set(key, value, retention=...)`` takes a ``timedelta``, a number of
seconds, :data:`NEVER_EXPIRE`, or nothing (the default retention, 30 days, as Airflow's
``[state_store] default_retention_days``). Asset state store keys never expire.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final


class _NeverExpire:
    """The one value that keeps a task state store key until it is deleted."""

    _instance: _NeverExpire | None = None

    def __new__(cls) -> _NeverExpire:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEVER_EXPIRE"

    def __reduce__(self) -> str:
        return "NEVER_EXPIRE"


NEVER_EXPIRE: Final = _NeverExpire()
"""Pass as ``retention`` to keep a task state store key until it is deleted."""

DEFAULT_RETENTION: Final = timedelta(days=30)
"""How long a key set without ``retention`` is kept."""

MAX_KEY_LENGTH: Final = 250
"""Longest key of a state store."""


def expires_at(now: datetime, retention: object = None) -> datetime | None:
    """When a key written at ``now`` with ``retention`` expires; None: never.

    Raises ValueError (or TypeError) naming a retention that is not a positive
    timedelta or number of seconds, nor NEVER_EXPIRE, nor None.
    """
    if retention is None:
        return now + DEFAULT_RETENTION
    if retention is NEVER_EXPIRE:
        return None
    if isinstance(retention, bool) or not isinstance(retention, timedelta | int | float):
        raise TypeError(
            f"retention={retention!r}: give a timedelta, a number of seconds or NEVER_EXPIRE")
    seconds = retention.total_seconds() if isinstance(retention, timedelta) else retention
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(
            f"retention={retention!r}: must be positive (NEVER_EXPIRE keeps a key for good)")
    return now + timedelta(seconds=seconds)


def check_key(key: object) -> str:
    """``key`` if it is a usable state store key, else ValueError/TypeError saying why."""
    if not isinstance(key, str):
        raise TypeError(f"state store key {key!r}: must be a str, not {type(key).__name__}")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(
            f"state store key {key[:40]!r}: must be 1 to {MAX_KEY_LENGTH} characters long")
    return key


def is_live(expiry: datetime | None, now: datetime) -> bool:
    """Whether a key with this expiry is still there at ``now``."""
    return expiry is None or expiry > now


__all__ = ["DEFAULT_RETENTION", "MAX_KEY_LENGTH", "NEVER_EXPIRE", "check_key", "expires_at",
           "is_live"]
