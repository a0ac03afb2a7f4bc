"""Triggers as stored: serialize() and load_trigger(), and the JSON of kwargs and events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from millstream.triggerer.base import BaseTrigger, TriggerEvent, load_trigger, serialize_trigger
from millstream.triggerer.serde import decode, encode
from millstream.triggerer.triggers.time import DateTimeTrigger, TimeDeltaTrigger

from .sample_triggers import PATH, GateTrigger

MOMENT = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)


def test_serde_round_trips_json_datetimes_and_timedeltas_through_json_text() -> None:
    value = {
        "at": MOMENT,
        "local": datetime(2026, 3, 1, 8, 30, tzinfo=timezone(timedelta(hours=2))),
        "wait": timedelta(minutes=90, microseconds=5),
        "items": [1, 2.5, "x", None, True, (MOMENT, {"deep": timedelta(0)})],
    }
    stored = json.loads(json.dumps(encode(value)))
    back = decode(stored)
    assert back["at"] == MOMENT and back["at"].tzinfo is not None
    assert back["local"] == value["local"] and back["local"].utcoffset() == timedelta(hours=2)
    assert back["wait"] == timedelta(minutes=90, microseconds=5)
    assert back["items"] == [1, 2.5, "x", None, True, [MOMENT, {"deep": timedelta(0)}]]


@pytest.mark.parametrize(("value", "problem"), [
    ({"handle": object()}, r"value\['handle'\]: cannot store a object value"),
    ({"when": datetime(2026, 1, 1)}, r"value\['when'\]: datetime 2026-01-01T00:00:00 has no"),
    ({1: "a"}, "value: key 1 is not a string"),
    ({"__millstream_type__": "x"}, "reserved"),
    ([float("nan")], r"value\[0\]: nan is not a JSON number"),
])
def test_serde_refuses_what_is_not_storable_and_says_where(value: Any, problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        encode(value)


def test_a_trigger_rebuilds_from_its_serialized_form() -> None:
    classpath, kwargs = serialize_trigger(DateTimeTrigger(MOMENT))
    assert classpath == "millstream.triggerer.triggers.time.DateTimeTrigger"
    rebuilt = load_trigger(classpath, json.loads(json.dumps(kwargs)))
    assert isinstance(rebuilt, DateTimeTrigger) and rebuilt.moment == MOMENT
    gate_path, gate_kwargs = serialize_trigger(GateTrigger("g", {"n": [1, 2]}))
    again = load_trigger(gate_path, gate_kwargs)
    assert isinstance(again, GateTrigger) and (again.name, again.extra) == ("g", {"n": [1, 2]})


def test_a_time_delta_trigger_is_stored_as_its_moment() -> None:
    before = datetime.now(UTC)
    trigger = TimeDeltaTrigger(timedelta(hours=1))
    classpath, kwargs = serialize_trigger(trigger)
    assert classpath.endswith(".DateTimeTrigger")
    moment = decode(kwargs)["moment"]
    assert before + timedelta(hours=1) <= moment <= datetime.now(UTC) + timedelta(hours=1)


def test_time_triggers_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        DateTimeTrigger(datetime(2026, 1, 1))
    with pytest.raises(TypeError, match="moment must be a datetime"):
        DateTimeTrigger("2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="delta must be a timedelta"):
        TimeDeltaTrigger(5)  # type: ignore[arg-type]


class _NotATrigger:
    pass


class _BadPath(BaseTrigger):
    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("NoDots", {})

    async def run(self) -> Any:  # pragma: no cover - never run
        yield TriggerEvent(None)


class _BadKwargs(_BadPath):
    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{PATH}.GateTrigger", {"name": object()})


def test_serialize_trigger_names_what_is_wrong() -> None:
    with pytest.raises(TypeError, match="expected a BaseTrigger"):
        serialize_trigger(_NotATrigger())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must return an import path"):
        serialize_trigger(_BadPath())
    with pytest.raises(TypeError, match=r"_BadKwargs.serialize\(\) kwargs\['name'\]"):
        serialize_trigger(_BadKwargs())


def test_load_trigger_refuses_paths_that_are_not_triggers() -> None:
    with pytest.raises(ImportError, match="names no module"):
        load_trigger("GateTrigger", {})
    with pytest.raises(ImportError, match="is not a BaseTrigger subclass"):
        load_trigger("millstream.triggerer.serde.encode", {})
    with pytest.raises(ModuleNotFoundError):
        load_trigger("no_such_package.Trigger", {})


def test_repr_shows_the_trigger_and_its_arguments() -> None:
    assert repr(GateTrigger("g")) == "<GateTrigger(name='g', extra={})>"
