"""The trigger form's fields, one per DAG Param: a widget by the Param's JSON schema (an
enum a select, a boolean a checkbox, a number a number input, a ``date``, ``date-time`` or
``time`` format a date or time picker, lists and objects JSON), the schema's constraints
in words, and the conf the submitted fields make.

Pure functions over the stored params (``DagStructure.data["params"]``) and the form's
text values: no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from millstream.exceptions import InvalidInputError

FIELD_PREFIX = "param."
"""Each param's form field is named ``param.<name>``."""
EMPTY_PREFIX = "param-present."
"""A hidden field per checkbox: an unticked box sends nothing, this says it was shown."""


@dataclass(frozen=True, slots=True)
class ParamField:
    """One param's widget on the trigger form."""

    name: str
    widget: str  # select, checkbox, number, integer, text, date, datetime, time, json
    value: str  # the input's value as text (a select's: the chosen option's JSON)
    required: bool
    description: str | None
    types: tuple[str, ...]
    constraints: tuple[str, ...]
    options: tuple[tuple[str, str], ...] = ()  # (JSON value, label) of a select
    checked: bool = False
    minimum: float | None = None
    maximum: float | None = None
    title: str | None = None

    @property
    def field(self) -> str:
        return FIELD_PREFIX + self.name


def schema_of(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A stored param's JSON schema (params stored before schemas: their flat keywords)."""
    if isinstance(spec.get("schema"), dict):
        return dict(spec["schema"])
    flat = {"type": spec.get("type"), "enum": spec.get("enum"), "minimum": spec.get("minimum"),
            "maximum": spec.get("maximum"), "minLength": spec.get("min_length"),
            "maxLength": spec.get("max_length"), "pattern": spec.get("pattern")}
    return {key: value for key, value in flat.items() if value not in (None, [])}


def _spec_parts(spec: Mapping[str, Any]) -> tuple[bool, Any, tuple[str, ...]]:
    """(has a default, the default, its types) of a stored param."""
    if not spec.get("param"):
        value = spec.get("value")
        return True, value, ()
    kinds = schema_of(spec).get("type") or spec.get("type") or ()
    types = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    return bool(spec.get("has_default")), spec.get("default"), types


_FORMATS = {"date": "date", "date-time": "datetime", "time": "time"}


def widget_for(types: tuple[str, ...], enum: list[Any] | None, fmt: str | None = None) -> str:
    """The widget a param gets from its schema (one type, or one besides ``null``)."""
    if enum:
        return "select"
    real = [t for t in types if t != "null"]
    if len(real) > 1:
        return "json"
    if fmt in _FORMATS and (not real or real[0] == "string"):
        return _FORMATS[fmt]
    if not real:
        return "json"
    return {"boolean": "checkbox", "integer": "integer", "number": "number",
            "string": "text"}.get(real[0], "json")


def constraints_of(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The schema's rules in words, as the form shows them beside the param's input."""
    said: list[str] = []
    types = schema.get("type") or []
    if types:
        said.append(" or ".join([types] if isinstance(types, str) else types))
    if schema.get("format"):
        said.append(f"format {schema['format']}")
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"),
                      ("exclusiveMaximum", "<")):
        if isinstance(schema.get(key), int | float) and not isinstance(schema[key], bool):
            said.append(f"{sign} {_number(schema[key])}")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None and high is not None:
        said.append(f"length {low} to {high}")
    elif low is not None:
        said.append(f"length ≥ {low}")
    elif high is not None:
        said.append(f"length ≤ {high}")
    if schema.get("pattern"):
        said.append(f"matches {schema['pattern']}")
    if schema.get("enum"):
        said.append("one of " + ", ".join(json.dumps(v) for v in schema["enum"]))
    return tuple(said)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _as_text(value: Any, widget: str) -> str:
    if value is None:
        return ""
    if widget in ("text", "date", "time") and isinstance(value, str):
        return value
    if widget == "datetime" and isinstance(value, str):
        return value[:16]  # what a datetime-local input shows: minutes, no zone
    if widget in ("integer", "number") and isinstance(value, int | float) \
            and not isinstance(value, bool):
        return _number(value)
    return json.dumps(value)


def param_fields(params: Mapping[str, Mapping[str, Any]],
                 conf: Mapping[str, Any] | None = None,
                 submitted: Mapping[str, str] | None = None) -> list[ParamField]:
    """A field per param, filled with ``conf``'s value where it has one, else the default;
    with ``submitted`` (a form sent back with a mistake), with the text the user sent."""
    fields = []
    for name, spec in params.items():
        has_default, default, types = _spec_parts(spec)
        schema = schema_of(spec) if spec.get("param") else {}
        enum = schema.get("enum")
        widget = widget_for(types, enum, schema.get("format")) if spec.get("param") else "json"
        given = conf is not None and name in conf
        value = conf[name] if conf is not None and given else default
        shown = has_default or given
        options: tuple[tuple[str, str], ...] = ()
        if widget == "select":
            shown_as = schema.get("values_display") or {}
            options = tuple((json.dumps(o), str(shown_as.get(str(o), o))) for o in enum or [])
            text = json.dumps(value) if shown else ""
        else:
            text = _as_text(value, widget) if shown else ""
        checked = widget == "checkbox" and value is True
        if submitted is not None:
            text = submitted.get(FIELD_PREFIX + name, "")
            checked = widget == "checkbox" and text in ("true", "on", "1")
        fields.append(ParamField(
            name=name, widget=widget, value=text, required=not has_default,
            description=spec.get("description"), types=types,
            constraints=constraints_of(schema) if spec.get("param") else (),
            options=options, checked=checked,
            minimum=schema.get("minimum"), maximum=schema.get("maximum"),
            title=schema.get("title")))
    return fields


def conf_from_form(params: Mapping[str, Mapping[str, Any]],
                   form: Mapping[str, str]) -> dict[str, Any]:
    """The conf the submitted fields make. An empty field is left out (its param keeps its
    default); a value that is not of its widget's kind is an InvalidInputError naming the
    param. Whether the values fit the params is checked when the run is triggered."""
    conf: dict[str, Any] = {}
    for field in param_fields(params):
        key = field.field
        if field.widget == "checkbox":
            if EMPTY_PREFIX + field.name in form:
                conf[field.name] = form.get(key) in ("true", "on", "1")
            continue
        text = form.get(key)
        if text is None or (text.strip() == "" and field.widget != "text"):
            continue
        if text == "" and field.widget == "text":
            continue
        conf[field.name] = _parse(field, text)
    return conf


def _parse(field: ParamField, text: str) -> Any:
    where = f"param {field.name!r}"
    if field.widget in ("text", "date", "time"):
        return text
    if field.widget == "datetime":
        # a datetime-local input sends 2026-01-01T06:30: the form's times are UTC
        return text if len(text) > 16 else f"{text}:00+00:00"
    if field.widget == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise InvalidInputError(f"{where} must be a whole number, got {text!r}",
                                    field=field.field) from None
    if field.widget == "number":
        try:
            number = float(text.strip())
        except ValueError:
            raise InvalidInputError(f"{where} must be a number, got {text!r}",
                                    field=field.field) from None
        if not math.isfinite(number):
            raise InvalidInputError(f"{where} must be a finite number, got {text!r}",
                                    field=field.field)
        return int(number) if number.is_integer() and "." not in text else number
    try:
        return json.loads(text)
    except ValueError:
        if field.widget == "json" and "string" in field.types:
            return text
        raise InvalidInputError(f"{where} is not valid JSON: {text!r}",
                                field=field.field) from None


__all__ = ["EMPTY_PREFIX", "FIELD_PREFIX", "ParamField", "conf_from_form", "constraints_of",
           "param_fields", "schema_of", "widget_for"]
