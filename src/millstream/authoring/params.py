"""Run parameters: Param definitions with defaults and validation, and their resolution."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from millstream.exceptions import ParamValidationError

_NO_DEFAULT: Any = object()
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}


class Param:
    """A DAG parameter: a default value plus the rules a run's value must satisfy.

    ``type`` is a JSON-schema type name (or a list of them); ``enum``, ``minimum``,
    ``maximum``, ``min_length``, ``max_length`` and ``pattern`` constrain the value.
    """

    def __init__(
        self,
        default: Any = _NO_DEFAULT,
        description: str | None = None,
        *,
        type: str | list[str] | None = None,  # the JSON-schema keyword
        enum: list[Any] | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
    ) -> None:
        types = [type] if isinstance(type, str) else list(type or [])
        for name in types:
            if name not in _JSON_TYPES:
                raise ParamValidationError(
                    f"unknown Param type {name!r}; expected one of: {', '.join(_JSON_TYPES)}"
                )
        self.default = default
        self.description = description
        self.types = types
        self.enum = enum
        self.minimum = minimum
        self.maximum = maximum
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = re.compile(pattern) if pattern else None

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    def validate(self, value: Any, name: str) -> Any:
        """Return the value if it satisfies this Param, else raise naming the param."""
        problem = self._problem(value)
        if problem:
            raise ParamValidationError(f"param {name!r}: {problem} (got {value!r})")
        return value

    def _problem(self, value: Any) -> str | None:
        if self.types and not any(_is_json_type(value, t) for t in self.types):
            return f"must be of type {' or '.join(self.types)}"
        if self.enum is not None and value not in self.enum:
            return f"must be one of {self.enum!r}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                return f"must be >= {self.minimum}"
            if self.maximum is not None and value > self.maximum:
                return f"must be <= {self.maximum}"
        if isinstance(value, str | list | tuple):
            if self.min_length is not None and len(value) < self.min_length:
                return f"must have length >= {self.min_length}"
            if self.max_length is not None and len(value) > self.max_length:
                return f"must have length <= {self.max_length}"
        if self.pattern is not None and isinstance(value, str) and not self.pattern.search(value):
            return f"must match pattern {self.pattern.pattern!r}"
        return None

    def __repr__(self) -> str:
        return f"Param(default={self.default!r}, type={self.types!r})"


def _is_json_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _JSON_TYPES[name])


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
