"""Template macros available as ``macros.*``: date arithmetic and common modules."""

from __future__ import annotations

import datetime as _datetime
import json
import random
import time
import uuid
from datetime import timedelta

__all__ = ["datetime", "ds_add", "ds_format", "json", "random", "time", "timedelta", "uuid"]

datetime = _datetime.datetime


def ds_add(ds: str, days: int) -> str:
    """Add (or subtract) days to a YYYY-MM-DD date: ``ds_add('2026-01-01', 5)`` -> '2026-01-06'."""
    if not days:
        return str(ds)
    moved = _datetime.datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)
    return moved.strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """Re-format a date string: ``ds_format('2026-01-05', '%Y-%m-%d', '%m-%d-%y')``."""
    return _datetime.datetime.strptime(str(ds), input_format).strftime(output_format)
