"""Shapes shared by every resource: the base of request bodies, and the total of a list."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from millstream.model.identifiers import Identifier, identifier_rule

RUN_ID_PATTERN = identifier_rule(Identifier.RUN).pattern
"""What a run id may hold: it appears in URLs and log file paths."""
POOL_PATTERN = identifier_rule(Identifier.POOL).pattern


class Body(BaseModel):
    """A request body: unknown fields are an error that names them."""

    model_config = ConfigDict(extra="forbid")


class Collection(BaseModel):
    """A page of a list, with how many entries the whole list has."""

    total_entries: int = Field(description="Entries in the whole list, not only this page.")
