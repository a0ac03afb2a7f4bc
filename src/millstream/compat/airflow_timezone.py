"""``airflow.sdk.timezone`` (and ``airflow.utils.timezone``): aware datetimes, UTC by default.

Served as a module object, so ``from airflow.sdk import timezone`` then
``timezone.utcnow()`` works; the functions are built on pendulum when it is installed (as
with Airflow) and on the standard library otherwise.
"""

from __future__ import annotations

import sys
from datetime import UTC, tzinfo
from datetime import datetime as _datetime
from typing import Any
from zoneinfo import ZoneInfo

utc = UTC


def utcnow() -> _datetime:
    """Now, aware, in UTC."""
    return _datetime.now(UTC)


def _zone(tz: str | tzinfo | None) -> tzinfo:
    if tz is None:
        return UTC
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def datetime(*args: Any, **kwargs: Any) -> _datetime:
    """A datetime, in UTC when ``tzinfo`` is not given (Airflow's default time zone)."""
    kwargs.setdefault("tzinfo", UTC)
    return _datetime(*args, **kwargs)


def is_localized(value: _datetime) -> bool:
    return value.utcoffset() is not None


def is_naive(value: _datetime) -> bool:
    return value.utcoffset() is None


def make_aware(value: _datetime, timezone: str | tzinfo | None = None) -> _datetime:
    """``value`` with the time zone attached (a naive value is taken as wall time there)."""
    if is_localized(value):
        raise ValueError(f"make_aware expects a naive datetime, got {value}")
    return value.replace(tzinfo=_zone(timezone))


def make_naive(value: _datetime, timezone: str | tzinfo | None = None) -> _datetime:
    if is_naive(value):
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    return value.astimezone(_zone(timezone)).replace(tzinfo=None)


def convert_to_utc(value: _datetime | None) -> _datetime | None:
    """An aware datetime in UTC (a naive one is taken as UTC), or None."""
    if value is None:
        return None
    if is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def coerce_datetime(value: _datetime | None, tz: str | tzinfo | None = None) -> _datetime | None:
    if value is None:
        return None
    return value if is_localized(value) else value.replace(tzinfo=_zone(tz))


def parse(text: str, timezone: str | tzinfo | None = None) -> _datetime:
    """An ISO 8601 date or date-time; one without an offset is taken in ``timezone`` (UTC)."""
    try:
        import pendulum

        parsed = pendulum.parse(text, tz=_zone(timezone))
        if isinstance(parsed, _datetime):
            return parsed
    except ImportError:
        pass
    value = _datetime.fromisoformat(text)
    return value if is_localized(value) else value.replace(tzinfo=_zone(timezone))


timezone = sys.modules[__name__]

__all__ = [
    "coerce_datetime",
    "convert_to_utc",
    "datetime",
    "is_localized",
    "is_naive",
    "make_aware",
    "make_naive",
    "parse",
    "timezone",
    "utc",
    "utcnow",
]
