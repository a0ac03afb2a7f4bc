"""The limits on what users may store: sizes, JSON depth, numeric ranges, date range.

Every entry point (the API, the UI, the CLI, the operators, the task runtime) refuses a
value past these limits with an InvalidInputError that names the field and the limit,
before anything is stored. The sizes are settings (``[limits]``); the ranges below are
what the metadata database and Python's dates can hold, so they are fixed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from millstream.exceptions import InvalidInputError

__all__ = [
    "MAX_INT", "MAX_MOMENT", "MAX_TOKEN_DAYS", "MIN_MOMENT", "Limits", "check_json", "check_moment",
    "check_range", "json_depth", "limits_in_force", "use_limits",
]

MAX_INT = 2**31 - 1
"""The largest count or index stored (pool slots, map indexes, retries): a 32-bit integer."""
MAX_TOKEN_DAYS = 3650
"""The longest an API token may be made to last (one that never expires is also possible)."""
MIN_MOMENT = datetime(1, 1, 2, tzinfo=UTC)
MAX_MOMENT = datetime(9998, 12, 31, tzinfo=UTC)
"""Dates outside these cannot have a data interval computed around them in every time zone."""


@dataclass(frozen=True)
class Limits:
    """The size limits in force (``[limits]`` in the settings)."""

    max_request_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 64
    max_conf_bytes: int = 1024 * 1024
    max_value_bytes: int = 1024 * 1024
    max_xcom_bytes: int = 1024 * 1024


_in_force: list[Limits] = [Limits()]


def use_limits(limits: Limits) -> None:
    """Make ``limits`` (from the ``[limits]`` settings) the ones this process checks.

    Whatever loads the settings (the CLI, the web server) calls it; processes forked from
    it (task tries) inherit them."""
    _in_force[:] = [limits]


def limits_in_force() -> Limits:
    """The limits this process checks: those given to :func:`use_limits`, else the defaults."""
    return _in_force[0]


def json_depth(value: Any, stop_after: int) -> int:
    """How deeply ``value``'s lists and dicts nest (a scalar is 0), counted without
    recursion and no further than ``stop_after + 1``, so that any input is safe to measure."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list | tuple):
            depth += 1
            deepest = max(deepest, depth)
            if depth > stop_after:
                return depth
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth) for child in children)
    return deepest


def check_json(value: Any, what: str, *, max_depth: int, max_bytes: int) -> str:
    """``value`` as JSON text, if it nests at most ``max_depth`` deep and its text is at
    most ``max_bytes`` long (UTF-8); else an InvalidInputError naming ``what``."""
    depth = json_depth(value, max_depth)
    if depth > max_depth:
        raise InvalidInputError(f"{what} nests deeper than {max_depth} levels", field=what)
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be JSON-serializable: {exc}", field=what) from None
    size = len(text.encode())
    if size > max_bytes:
        raise InvalidInputError(f"{what} is {size} bytes as JSON; at most {max_bytes} are "
                                "allowed", field=what)
    return text


def check_range(value: int, what: str, low: int, high: int = MAX_INT) -> int:
    """``value`` if ``low <= value <= high``, else an InvalidInputError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{what} must be a whole number from {low} to {high}, "
                                f"got {value!r}", field=what)
    return value


def check_moment(moment: datetime, what: str) -> datetime:
    """``moment`` (aware) if it lies in the range dates are kept in, else an error."""
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not MIN_MOMENT <= in_utc <= MAX_MOMENT:
        raise InvalidInputError(f"{what} {moment.isoformat()} is out of range: use a date "
                                f"from {MIN_MOMENT.date()} to {MAX_MOMENT.date()}", field=what)
    return in_utc
