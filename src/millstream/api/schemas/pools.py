"""Shapes of pools: the list, one pool with its occupancy, creating and changing one."""

from __future__ import annotations

from pydantic import BaseModel, Field

from millstream.api.schemas.common import POOL_PATTERN, Body, Collection
from millstream.services.pools import MAX_POOL_SLOTS


class PoolOut(BaseModel):
    """A pool of worker slots and how many are taken."""

    name: str
    slots: int
    description: str
    running_slots: int
    queued_slots: int
    open_slots: int


class PoolCollection(Collection):
    pools: list[PoolOut]


class PoolIn(Body):
    """A new pool."""

    name: str = Field(pattern=POOL_PATTERN)
    slots: int = Field(ge=0, le=MAX_POOL_SLOTS)
    description: str = Field(default="", max_length=10000)


class PoolPatch(Body):
    """What can change on a pool."""

    slots: int | None = Field(default=None, ge=0, le=MAX_POOL_SLOTS)
    description: str | None = Field(default=None, max_length=10000)
