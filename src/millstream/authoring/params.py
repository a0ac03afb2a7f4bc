"""Run parameters: Param definitions with defaults and JSON-schema validation, and their resolution.

A :class:`Param` is a default value plus a JSON schema that a run's value must satisfy,
checked by the ``jsonschema`` library (the schema's own ``$schema``, else draft 2020-12),
with formats (``date``, ``date-time``, ``email`` ...) checked too, as Airflow does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from millstream.exceptions import ParamValidationError

_NO_DEFAULT: Any = object()
# millstream's first Param spelled two JSON-schema keywords in snake case; both still work.
_RENAMED = {"min_length": "minLength", "max_length": "maxLength"}
_JSON_TYPES = ("string", "integer", "number", "boolean", "array", "object", "null")


def _validator_class(schema: Mapping[str, Any]) -> Any:
    from jsonschema.validators import Draft202012Validator, validator_for

    return validator_for(schema, default=Draft202012Validator)


class Param:
    """A DAG parameter: a default value plus the JSON schema a run's value must satisfy.

    Every keyword but ``default`` and ``description`` is a JSON-schema keyword (``type``,
    ``enum``, ``minimum``, ``maxLength``, ``items``, ``format`` ...; or the whole schema as
    ``schema={...}``); keywords JSON schema does not know, such as ``title``, ``section``,
    ``values_display`` or ``description_md``, are kept for forms and ignored by validation.
    A schema that is not valid JSON schema is a :class:`ParamValidationError` at once.
    """

    def __init__(self, default: Any = _NO_DEFAULT, description: str | None = None,
                 **schema: Any) -> None:
        given = dict(schema.pop("schema")) if "schema" in schema else {}
        given.update(schema)
        for old, new in _RENAMED.items():
            if old in given:
                given[new] = given.pop(old)
        if given.get("type") is None:
            given.pop("type", None)
        if isinstance(given.get("type"), tuple):
            given["type"] = list(given["type"])
        if description is not None:
            given.setdefault("description", description)
        kinds = given.get("type")
        for kind in [kinds] if isinstance(kinds, str) else kinds or []:
            if kind not in _JSON_TYPES:
                raise ParamValidationError(
                    f"unknown Param type {kind!r}; expected one of: {', '.join(_JSON_TYPES)}")
        from jsonschema.exceptions import SchemaError

        try:
            _validator_class(given).check_schema(given)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            raise ParamValidationError(
                f"bad Param schema{f' at {where}' if where else ''}: {exc.message}"
            ) from None
        self.default = default
        self.description = description
        self.schema: dict[str, Any] = given

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    @property
    def types(self) -> list[str]:
        """The schema's ``type`` as a list (empty when any type is allowed)."""
        kind = self.schema.get("type")
        return [kind] if isinstance(kind, str) else list(kind or [])

    @property
    def title(self) -> str | None:
        return self.schema.get("title")

    @property
    def section(self) -> str | None:
        return self.schema.get("section")

    @property
    def values_display(self) -> dict[str, Any] | None:
        return self.schema.get("values_display")

    def validate(self, value: Any, name: str) -> Any:
        """Return the value if it satisfies the schema, else raise naming the param."""
        problem = self.problem(value)
        if problem:
            raise ParamValidationError(f"param {name!r}: {problem} (got {value!r})")
        return value

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` by this Param's schema, or None if it is valid."""
        from jsonschema import FormatChecker

        validator = _validator_class(self.schema)(self.schema, format_checker=FormatChecker())
        errors = sorted(validator.iter_errors(_as_json(value)), key=lambda e: list(e.path))
        if not errors:
            return None
        error = errors[0]
        where = "/".join(str(p) for p in error.absolute_path)
        return f"{error.message}{f' (at {where})' if where else ''}"

    def as_json(self) -> dict[str, Any]:
        """The Param as JSON-ready data: its schema, description and default if any."""
        data: dict[str, Any] = {"schema": self.schema, "description": self.description}
        if self.has_default:
            data["default"] = self.default
        return data

    def __repr__(self) -> str:
        shown = repr(self.default) if self.has_default else "<no default>"
        return f"Param({shown}, schema={self.schema!r})"


def _as_json(value: Any) -> Any:
    """Tuples as lists: JSON has only arrays, and a Python caller may pass either."""
    if isinstance(value, tuple):
        return [_as_json(v) for v in value]
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


class ParamsDict(dict[str, Any]):
    """A DAG's params: plain values and Param definitions, resolved per run."""

    def __init__(self, params: Mapping[str, Any], owner: str) -> None:
        super().__init__(params)
        self.owner = owner
        for name, value in self.items():
            if isinstance(value, Param) and value.has_default:
                try:
                    value.validate(value.default, name)
                except ParamValidationError as exc:
                    raise ParamValidationError(f"{owner}: default of {exc}") from None

    def resolve(self, conf: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults overridden by ``conf``; raises naming any param that is missing or bad."""
        resolved: dict[str, Any] = {}
        for name, value in self.items():
            supplied = name in conf
            if isinstance(value, Param):
                if not supplied and not value.has_default:
                    raise ParamValidationError(f"{self.owner}: param {name!r} needs a value")
                resolved[name] = value.validate(conf[name] if supplied else value.default, name)
            else:
                resolved[name] = conf[name] if supplied else value
        for name, value in conf.items():
            resolved.setdefault(name, value)
        return resolved
