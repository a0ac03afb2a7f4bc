"""JSON for what a deferral stores: trigger kwargs, resume kwargs and event payloads.

Plain JSON values pass as they are; datetimes and timedeltas (the arguments of time
triggers) are written as small tagged objects and read back as themselves. Anything else
is refused with an error naming where it was found: nothing is pickled or silently
turned into a string.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

_TAG = "__millstream_type__"


def encode(value: Any, where: str = "value") -> Any:
    """``value`` as JSON-ready data (see the module docstring)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{where}: {value!r} is not a JSON number")
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError(f"{where}: datetime {value.isoformat()} has no time zone")
        return {_TAG: "datetime", "value": value.isoformat()}
    if isinstance(value, timedelta):
        return {_TAG: "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, list | tuple):
        return [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string")
            if key == _TAG:
                raise TypeError(f"{where}: the key {_TAG!r} is reserved")
            out[key] = encode(item, f"{where}[{key!r}]")
        return out
    raise TypeError(
        f"{where}: cannot store a {type(value).__name__} value; use JSON values "
        "(str, number, bool, None, list, dict), datetimes or timedeltas"
    )


def decode(value: Any) -> Any:
    """The value :func:`encode` wrote."""
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        tag = value.get(_TAG)
        if tag == "datetime":
            return datetime.fromisoformat(value["value"])
        if tag == "timedelta":
            return timedelta(seconds=value["seconds"])
        if tag is not None:
            raise ValueError(f"unknown stored type {tag!r}")
        return {key: decode(item) for key, item in value.items()}
    return value
