"""The one parser of each raw input a user action takes: run conf, dates, states, patterns.

The API, the UI, the CLI and the operators hand these the text (or value) they got; each
parser returns the clean value or raises :class:`~millstream.exceptions.InvalidInputError`
whose message starts with ``what`` (``--conf``, ``body.conf``, ``Conf`` ...), so every
caller reports the same mistake in the same words under its own name for the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any, TypeVar

from millstream.exceptions import InvalidInputError
from millstream.model.intervals import ensure_utc

_E = TypeVar("_E", bound=Enum)

DATE_EXAMPLE = "e.g. 2026-01-01 or 2026-01-01T06:00:00+00:00"


def parse_conf(value: str | Mapping[str, Any] | None, what: str = "conf") -> dict[str, Any]:
    """A run conf: JSON object text or a mapping (empty text or None is ``{}``).

    A mapping must be JSON-serializable, since the conf is stored and shown as JSON.
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        conf = dict(value)
        try:
            json.dumps(conf)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{what} must be JSON-serializable: {exc}") from None
        return conf
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a JSON object or a dict, not a "
                                f"{type(value).__name__}")
    if not value.strip():
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                f"column {exc.colno}") from None
    if not isinstance(parsed, dict):
        raise InvalidInputError(f'{what} must be a JSON object like {{"key": 1}}, not a '
                                f"{type(parsed).__name__}")
    return parsed


def parse_date(value: str | datetime | date | None, what: str = "date") -> datetime | None:
    """A moment as aware UTC (naive means UTC): an ISO date or date-time text, a datetime
    or a date; empty text or None is None (the caller picks the default)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    if isinstance(value, date):
        return ensure_utc(datetime(value.year, value.month, value.day))
    if not isinstance(value, str):
        raise InvalidInputError(f"bad {what} {value!r}: use a datetime or an ISO date or "
                                f"date-time, {DATE_EXAMPLE}")
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(f"bad {what} {value!r}: use a datetime or an ISO date or "
                                f"date-time, {DATE_EXAMPLE}") from None
    return ensure_utc(moment)


def require_date(value: str | datetime | date | None, what: str = "date") -> datetime:
    """Like :func:`parse_date`, but a missing value is an error too."""
    moment = parse_date(value, what)
    if moment is None:
        raise InvalidInputError(f"{what} is required ({DATE_EXAMPLE})")
    return moment


def parse_choice(value: str | _E, choices: type[_E], what: str) -> _E:
    """One member of the enum ``choices`` (by value, case-insensitive)."""
    if isinstance(value, choices):
        return value
    try:
        return choices(str(value).strip().lower())
    except ValueError:
        names = ", ".join(str(member.value) for member in choices)
        raise InvalidInputError(f"unknown {what} {value!r}; expected one of: {names}") from None


def compile_pattern(pattern: str, what: str = "task regex") -> re.Pattern[str]:
    """A regular expression a user typed, or an error naming it."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidInputError(f"bad {what} {pattern!r}: {exc}") from None
