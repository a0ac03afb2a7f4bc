"""JSON text for what crosses a process boundary: task workloads and task events.

``to_json`` writes one line of compact JSON tagged with a ``kind`` ("workload", "started"
or "finished"); ``from_json`` reads it back into the same dataclass. Fields are converted
by their type hints, so a field added to one of these dataclasses travels without changes
here: datetimes as ISO 8601 text (a ``ZoneInfo`` zone keeps its name, as in
``2026-03-01T00:00:00+01:00[Europe/Amsterdam]``), enums by value, records as objects,
tuples as arrays. Values typed ``Any`` (a run's ``conf``, a workload's ``params``) must
already be JSON: they are never pickled or silently turned into strings.

Readers ignore fields they do not know and fill missing ones with their defaults, so
a scheduler and a worker one version apart still understand each other.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from millstream.runtime.events import TaskFinishedEvent, TaskStartedEvent, TaskWorkload

T = TypeVar("T")

Message = TaskWorkload | TaskStartedEvent | TaskFinishedEvent

KINDS: dict[str, type[Any]] = {
    "workload": TaskWorkload,
    "started": TaskStartedEvent,
    "finished": TaskFinishedEvent,
}
_KIND_OF: dict[type[Any], str] = {cls: kind for kind, cls in KINDS.items()}


class MessageFormatError(ValueError):
    """A JSON message that is not a well-formed workload or event."""


def to_dict(message: Message) -> dict[str, Any]:
    """``message`` as a JSON-ready dict, tagged with its ``kind``."""
    kind = _KIND_OF.get(type(message))
    if kind is None:
        raise TypeError(f"cannot serialize {type(message).__name__}: not a workload or event")
    encoded = _encode(message, type(message).__name__)
    return {"kind": kind, **encoded}


def to_json(message: Message) -> str:
    """``message`` as one line of compact JSON (no newline inside or at the end).

    Raises TypeError naming the field when a free-form value (conf, params) is not JSON.
    """
    return json.dumps(to_dict(message), separators=(",", ":"), allow_nan=False)


def from_dict(data: dict[str, Any]) -> Message:
    """The workload or event a :func:`to_dict` dict describes."""
    if not isinstance(data, dict):
        raise MessageFormatError(f"expected a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise MessageFormatError(f"unknown message kind {kind!r} (expected one of "
                                 f"{', '.join(KINDS)})")
    try:
        return typing.cast(Message, _decode(cls, data, cls.__name__))
    except (TypeError, ValueError, KeyError) as exc:
        raise MessageFormatError(f"malformed {kind} message: {exc}") from None


def from_json(text: str | bytes) -> Message:
    """The workload or event in one line of JSON written by :func:`to_json`."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MessageFormatError(f"not JSON: {exc}") from None
    return from_dict(data)


def encode_record(record: Any) -> Any:
    """Any dataclass of JSON-able fields as JSON-ready data, converted as messages are."""
    return _encode(record, type(record).__name__)


def decode_record(cls: type[T], data: Any) -> T:
    """The ``cls`` dataclass :func:`encode_record` described (raises MessageFormatError)."""
    try:
        return typing.cast(T, _decode(cls, data, cls.__name__))
    except (TypeError, ValueError, KeyError) as exc:
        raise MessageFormatError(f"malformed {cls.__name__}: {exc}") from None


# -- encoding ---------------------------------------------------------------------------------
def _encode(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return encode_datetime(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _encode(getattr(value, f.name), f"{where}.{f.name}")
            for f in dataclasses.fields(value)
        }
    if isinstance(value, tuple | list):
        return [_encode(item, where) for item in value]
    if isinstance(value, dict):
        return _plain_json(value, where)
    raise TypeError(f"{where}: cannot serialize a {type(value).__name__} value")


def _plain_json(value: Any, where: str) -> Any:
    """A free-form value, checked to be JSON already (it is sent as is)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where} must hold JSON values only (str, number, bool, None, "
                        f"list, dict): {exc}") from None
    return value


def encode_datetime(moment: datetime) -> str:
    """ISO 8601 text; a ``ZoneInfo`` zone's name follows in brackets."""
    text = moment.isoformat()
    zone = moment.tzinfo
    if isinstance(zone, ZoneInfo) and zone.key:
        text += f"[{zone.key}]"
    return text


def decode_datetime(text: str) -> datetime:
    """The datetime :func:`encode_datetime` wrote."""
    if not isinstance(text, str):
        raise TypeError(f"expected an ISO 8601 datetime string, got {text!r}")
    if text.endswith("]") and "[" in text:
        stamp, _, zone_name = text[:-1].partition("[")
        moment = datetime.fromisoformat(stamp)
        try:
            return moment.astimezone(ZoneInfo(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            return moment  # an unknown zone keeps its fixed offset
    return datetime.fromisoformat(text)


# -- decoding ---------------------------------------------------------------------------------
@cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, raw: Any, where: str) -> Any:
    if tp is Any:
        return raw
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = typing.get_args(tp)
        if raw is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"{where}: unsupported union type {tp!r}")
        return _decode(options[0], raw, where)
    if raw is None:
        raise ValueError(f"{where} must not be null")
    if tp is datetime:
        return decode_datetime(raw)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(raw)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(raw, dict):
            raise TypeError(f"{where}: expected an object, got {type(raw).__name__}")
        hints = _hints(tp)
        kwargs = {
            f.name: _decode(hints[f.name], raw[f.name], f"{where}.{f.name}")
            for f in dataclasses.fields(tp)
            if f.init and f.name in raw
        }
        return tp(**kwargs)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item, where) for item in raw)
        if len(args) != len(raw):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(raw)}")
        return tuple(_decode(a, item, where) for a, item in zip(args, raw, strict=True))
    if origin is list:
        (item_type,) = typing.get_args(tp)
        return [_decode(item_type, item, where) for item in raw]
    if origin is dict:
        _, value_type = typing.get_args(tp)
        if not isinstance(raw, dict):
            raise TypeError(f"{where}: expected an object, got {type(raw).__name__}")
        return {key: _decode(value_type, value, where) for key, value in raw.items()}
    if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if isinstance(tp, type) and not isinstance(raw, tp):
        raise TypeError(f"{where}: expected {tp.__name__}, got {type(raw).__name__}")
    return raw
