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
from millstream.store.records import DagRunRecord

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
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}
_ENCODINGS: dict[type[Any], int] = {}


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


# A run's record is encoded once, not once per workload: every try of the run carries it.
# Held by identity with the record itself (a frozen dataclass), so an id reused after
# the record is gone never matches; the oldest is dropped past RUN_ENCODINGS_KEPT.
_RUN_ENCODINGS: dict[int, tuple[DagRunRecord, dict[str, Any]]] = {}
RUN_ENCODINGS_KEPT = 256


def _encode_run(run: DagRunRecord, where: str) -> dict[str, Any]:
    held = _RUN_ENCODINGS.get(id(run))
    if held is not None and held[0] is run:
        return held[1]
    encoded = _encode_fields(run, where)
    if len(_RUN_ENCODINGS) >= RUN_ENCODINGS_KEPT:
        del _RUN_ENCODINGS[next(iter(_RUN_ENCODINGS))]
    _RUN_ENCODINGS[id(run)] = (run, encoded)
    return encoded


def _encode(value: Any, where: str) -> Any:
    kind = _encoding(type(value))
    if kind is _PLAIN:
        return value
    if kind is _ENUM:
        return value.value
    if kind is _DATETIME:
        return encode_datetime(value)
    if kind is _RECORD:
        if type(value) is DagRunRecord:
            return _encode_run(value, where)
        return _encode_fields(value, where)
    if kind is _SEQUENCE:
        return [_encode(item, where) for item in value]
    if kind is _MAPPING:
        return _plain_json(value, where)
    raise TypeError(f"{where}: cannot serialize a {type(value).__name__} value")


def _encode_fields(value: Any, where: str) -> dict[str, Any]:
    fields = {}
    for name in _field_names(type(value)):
        item = getattr(value, name)
        fields[name] = (item if _encoding(type(item)) is _PLAIN
                        else _encode(item, f"{where}.{name}"))
    return fields


_PLAIN, _ENUM, _DATETIME, _RECORD, _SEQUENCE, _MAPPING, _OTHER = range(7)


def _encoding(cls: type[Any]) -> int:
    """How values of ``cls`` are written (the same for every value of one class)."""
    kind = _ENCODINGS.get(cls)
    if kind is None:
        kind = _ENCODINGS[cls] = _kind_of(cls)
    return kind


def _kind_of(cls: type[Any]) -> int:
    if cls is type(None) or issubclass(cls, bool | int | float | str):
        return _PLAIN
    if issubclass(cls, Enum):
        return _ENUM
    if issubclass(cls, datetime):
        return _DATETIME
    if dataclasses.is_dataclass(cls):
        return _RECORD
    if issubclass(cls, tuple | list):
        return _SEQUENCE
    if issubclass(cls, dict):
        return _MAPPING
    return _OTHER


def _plain_json(value: Any, where: str) -> Any:
    """A free-form value, checked to be JSON already (it is sent as is)."""
    if not value:
        return value
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
# Every message of one kind is read the same way: the type hints are looked at once per
# type, and the function that reads a value of that type is kept (a scheduler reads two
# events per try, a fork server, zygote and worker a workload each).
Decoder = typing.Callable[[Any, str], Any]


def _decode(tp: Any, raw: Any, where: str) -> Any:
    return _decoder(tp)(raw, where)


@cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


@cache
def _decoder(tp: Any) -> Decoder:
    """The function that reads a value of type ``tp`` from its JSON form."""
    if tp is Any:
        return _as_is
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return _union_decoder(tp)
    read = _value_decoder(tp, origin)

    def not_null(raw: Any, where: str) -> Any:
        if raw is None:
            raise ValueError(f"{where} must not be null")
        return read(raw, where)

    return not_null


def _as_is(raw: Any, where: str) -> Any:
    return raw


def _union_decoder(tp: Any) -> Decoder:
    args = typing.get_args(tp)
    nullable = type(None) in args
    options = [a for a in args if a is not type(None)]
    if len(options) != 1:
        def unsupported(raw: Any, where: str) -> Any:
            if raw is None and nullable:
                return None
            raise TypeError(f"{where}: unsupported union type {tp!r}")
        return unsupported
    read = _decoder(options[0])

    def optional(raw: Any, where: str) -> Any:
        if raw is None and nullable:
            return None
        return read(raw, where)

    return optional


def _value_decoder(tp: Any, origin: Any) -> Decoder:
    """How a non-null value of ``tp`` is read."""
    if tp is datetime:
        return lambda raw, where: decode_datetime(raw)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return lambda raw, where: tp(raw)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_decoder(tp)
    if origin is tuple:
        return _tuple_decoder(tp)
    if origin is list:
        (item_type,) = typing.get_args(tp)
        read_item = _decoder(item_type)
        return lambda raw, where: [read_item(item, where) for item in raw]
    if origin is dict:
        read_value = _decoder(typing.get_args(tp)[1])

        def mapping(raw: Any, where: str) -> Any:
            if not isinstance(raw, dict):
                raise TypeError(f"{where}: expected an object, got {type(raw).__name__}")
            return {key: read_value(value, where) for key, value in raw.items()}
        return mapping
    return _scalar_decoder(tp)


def _dataclass_decoder(cls: Any) -> Decoder:
    hints = _hints(cls)
    fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls) if f.init]

    def record(raw: Any, where: str) -> Any:
        if not isinstance(raw, dict):
            raise TypeError(f"{where}: expected an object, got {type(raw).__name__}")
        return cls(**{name: read(raw[name], f"{where}.{name}")
                      for name, read in fields if name in raw})

    return record


def _tuple_decoder(tp: Any) -> Decoder:
    args = typing.get_args(tp)
    if len(args) == 2 and args[1] is Ellipsis:
        read_item = _decoder(args[0])
        return lambda raw, where: tuple(read_item(item, where) for item in raw)
    readers = [_decoder(a) for a in args]

    def fixed(raw: Any, where: str) -> Any:
        if len(readers) != len(raw):
            raise ValueError(f"{where}: expected {len(readers)} items, got {len(raw)}")
        return tuple(read(item, where) for read, item in zip(readers, raw, strict=True))

    return fixed


def _scalar_decoder(tp: Any) -> Decoder:
    def scalar(raw: Any, where: str) -> Any:
        if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(tp, type) and not isinstance(raw, tp):
            raise TypeError(f"{where}: expected {tp.__name__}, got {type(raw).__name__}")
        return raw

    return scalar
