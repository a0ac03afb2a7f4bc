"""Retry timing: how long a failed task waits before its next try, and whether it gets one.

With ``retry_exponential_backoff`` the wait doubles with each failed try,
as in Apache Airflow: after try ``n`` the minimum wait is
``retry_delay * 2 ** (n - 1)``, and a deterministic jitter adds up to the
same amount again, so the wait lies in ``[minimum, 2 * minimum)``. The jitter
spreads out retries of many tasks that failed together (a database restart,
say) while staying reproducible: it is a hash of a caller-chosen key (such as
``"dag_id/task_id/run_id"``) and the try number. Because the next try's
minimum is twice this one's, a wait never shrinks from one try to the next.
Exponential waits are capped by ``max_retry_delay`` when set and always by
24 hours. Without backoff the wait is ``retry_delay``, unchanged.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from millstream.model.intervals import ensure_utc

__all__ = ["MAX_RETRY_DELAY", "next_retry_at", "retries_left", "retry_delay"]

MAX_RETRY_DELAY = timedelta(hours=24)
"""The longest wait exponential backoff ever produces."""

_US_PER_S = 1_000_000
_MAX_US = MAX_RETRY_DELAY // timedelta(microseconds=1)


def _jitter_us(jitter_key: str, try_number: int, bound_us: int) -> int:
    """A deterministic number of microseconds in ``[0, bound_us)`` from the key and try.

    Whole seconds when the bound is at least a second, so that waits read well.
    """
    digest = hashlib.sha256(f"{jitter_key}#{try_number}".encode()).digest()
    value = int.from_bytes(digest[:8], "big")
    if bound_us >= _US_PER_S:
        return (value % (bound_us // _US_PER_S)) * _US_PER_S
    return value % bound_us


def retry_delay(
    try_number: int,
    base_delay: timedelta,
    exponential_backoff: bool = False,
    max_delay: timedelta | None = None,
    jitter_key: str | None = None,
) -> timedelta:
    """Return how long to wait after failed try ``try_number`` (1-based) before the next.

    Without ``exponential_backoff`` this is ``base_delay``. With it, the wait
    is ``base_delay * 2 ** (try_number - 1)`` plus, if ``jitter_key`` is
    given, a deterministic jitter below that same amount; the result is
    capped at ``max_delay`` (if given) and at 24 hours.
    """
    if isinstance(try_number, bool) or not isinstance(try_number, int) or try_number < 1:
        raise ValueError(f"try_number must be a positive integer, got {try_number!r}")
    if base_delay < timedelta(0):
        raise ValueError(f"retry delay must not be negative, got {base_delay!r}")
    if max_delay is not None and max_delay < timedelta(0):
        raise ValueError(f"max retry delay must not be negative, got {max_delay!r}")
    if not exponential_backoff:
        return base_delay

    cap_us = _MAX_US
    if max_delay is not None:
        cap_us = min(cap_us, max_delay // timedelta(microseconds=1))
    base_us = base_delay // timedelta(microseconds=1)
    # Past 2**40 doublings any positive base exceeds 24 hours; stop doubling
    # there so that huge try numbers cost nothing.
    minimum_us = base_us << min(try_number - 1, 40)
    delay_us = minimum_us
    if jitter_key is not None and 0 < minimum_us < cap_us:
        delay_us += _jitter_us(jitter_key, try_number, minimum_us)
    return timedelta(microseconds=min(delay_us, cap_us))


def next_retry_at(
    failed_at: datetime,
    try_number: int,
    base_delay: timedelta,
    exponential_backoff: bool = False,
    max_delay: timedelta | None = None,
    jitter_key: str | None = None,
) -> datetime:
    """Return the UTC moment at which the try after failed try ``try_number`` may start.

    That is ``failed_at`` plus :func:`retry_delay` with the same arguments.
    """
    delay = retry_delay(try_number, base_delay, exponential_backoff, max_delay, jitter_key)
    return ensure_utc(failed_at) + delay


def retries_left(try_number: int, retries: int) -> bool:
    """Return True if a task allowed ``retries`` retries gets another try after try ``try_number``.

    A task gets ``retries + 1`` tries in all, so after failed try
    ``try_number`` (1-based) it is retried while ``try_number <= retries``.
    """
    if isinstance(try_number, bool) or not isinstance(try_number, int) or try_number < 1:
        raise ValueError(f"try_number must be a positive integer, got {try_number!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    return try_number <= retries
