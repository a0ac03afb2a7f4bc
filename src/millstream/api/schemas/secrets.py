"""Shapes of variables and connections (a connection's password goes in, never out)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from millstream.api.schemas.common import Body, Collection
from millstream.model.identifiers import Identifier, identifier_rule

KEY_PATTERN = identifier_rule(Identifier.VARIABLE).pattern
"""What a variable key or connection id may be (as the secrets module checks)."""


class VariableOut(BaseModel):
    """A variable; in lists, the value of a key that names a secret is ``***``."""

    key: str
    value: str
    description: str | None
    is_encrypted: bool


class VariableCollection(Collection):
    variables: list[VariableOut]


class VariableIn(Body):
    """A new variable."""

    key: str = Field(pattern=KEY_PATTERN)
    value: str = Field(max_length=1_000_000)
    description: str | None = Field(default=None, max_length=10000)


class VariablePatch(Body):
    """What can change on a variable (a description of null keeps the current one)."""

    value: str = Field(max_length=1_000_000)
    description: str | None = Field(default=None, max_length=10000)


class ConnectionOut(BaseModel):
    """A connection without its password: only whether one is set."""

    conn_id: str
    conn_type: str
    description: str | None
    host: str | None
    schema_: str | None = Field(alias="schema", serialization_alias="schema")
    login: str | None
    port: int | None
    extra: str | None = Field(description="JSON text; secret fields shown as ***.")
    password_set: bool
    is_encrypted: bool
    is_extra_encrypted: bool

    model_config = {"populate_by_name": True}


class ConnectionCollection(Collection):
    connections: list[ConnectionOut]


class _ConnectionFields(Body):
    description: str | None = Field(default=None, max_length=10000)
    host: str | None = Field(default=None, max_length=500)
    schema_: str | None = Field(default=None, alias="schema", max_length=500)
    login: str | None = Field(default=None, max_length=500)
    password: str | None = Field(default=None, max_length=10000)
    port: int | None = Field(default=None, ge=1, le=65535)
    extra: str | dict[str, Any] | None = Field(
        default=None, description="A JSON object, or its text.")


class ConnectionIn(_ConnectionFields):
    """A new connection."""

    conn_id: str = Field(pattern=KEY_PATTERN)
    conn_type: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.+-]{0,99}$")


class ConnectionPatch(_ConnectionFields):
    """Fields to change; fields left out keep their value (a null clears it)."""

    conn_type: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_.+-]{0,99}$")
