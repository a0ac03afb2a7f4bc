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
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, TypeVar

from millstream.exceptions import InvalidInputError
from millstream.model.identifiers import Identifier, check_identifier
from millstream.model.intervals import ensure_utc
from millstream.model.limits import (
    MAX_INT,
    check_json,
    check_moment,
    check_range,
    limits_in_force,
)

_E = TypeVar("_E", bound=Enum)

DATE_EXAMPLE = "e.g. 2026-01-01 or 2026-01-01T06:00:00+00:00"


def parse_conf(value: str | Mapping[str, Any] | None, what: str = "conf") -> dict[str, Any]:
    """A run conf: JSON object text or a mapping (empty text or None is ``{}``).

    A mapping must be JSON-serializable, since the conf is stored and shown as JSON.
    """
    if value is None:
        return {}
    limits = limits_in_force()
    if isinstance(value, Mapping):
        conf = dict(value)
        check_json(conf, what, max_depth=limits.max_json_depth, max_bytes=limits.max_conf_bytes)
        return conf
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a JSON object or a dict, not a "
                                f"{type(value).__name__}")
    if not value.strip():
        return {}
    parsed = parse_json(value, what, max_bytes=limits.max_conf_bytes)
    if not isinstance(parsed, dict):
        raise InvalidInputError(f'{what} must be a JSON object like {{"key": 1}}, not a '
                                f"{type(parsed).__name__}")
    return parsed


def parse_json(text: str, what: str, *, max_bytes: int | None = None) -> Any:
    """JSON text as a value, within the size and depth limits in force.

    The text's nesting is measured before it is parsed, so no input can exhaust the
    parser's recursion."""
    limits = limits_in_force()
    max_bytes = limits.max_value_bytes if max_bytes is None else max_bytes
    size = len(text.encode())
    if size > max_bytes:
        raise InvalidInputError(f"{what} is {size} bytes; at most {max_bytes} are allowed",
                                field=what)
    if _text_depth(text) > limits.max_json_depth:
        raise InvalidInputError(f"{what} nests deeper than {limits.max_json_depth} levels",
                                field=what)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                f"column {exc.colno}", field=what) from None
    return parsed


def _text_depth(text: str) -> int:
    """The deepest bracket nesting of JSON text, strings skipped (an upper bound of the
    parsed value's depth; malformed text is left to the parser to report)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def parse_date(value: str | datetime | date | None, what: str = "date") -> datetime | None:
    """A moment as aware UTC (naive means UTC): an ISO date or date-time text, a datetime
    or a date; empty text or None is None (the caller picks the default)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _in_range(value, what)
    if isinstance(value, date):
        return _in_range(datetime(value.year, value.month, value.day), what)
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
    return _in_range(moment, what)


def _in_range(moment: datetime, what: str) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return ensure_utc(check_moment(aware, what))


def parse_identifier(value: str, kind: Identifier) -> str:
    """An identifier a user typed (surrounding spaces dropped), checked against its rule."""
    return check_identifier(value.strip() if isinstance(value, str) else value, kind)


def parse_map_index(value: int, what: str = "map index") -> int:
    """A task instance's map index: -1 (not mapped) or a position in a mapped task."""
    return check_range(value, what, -1, MAX_INT)


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
