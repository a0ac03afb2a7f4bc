"""Shapes of the web server's users (passwords go in, never out)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from millstream.api.accounts import MIN_PASSWORD_LENGTH, USERNAME_PATTERN, Role
from millstream.api.schemas.common import Body, Collection


class UserOut(BaseModel):
    username: str
    role: Role
    email: str | None
    created_at: datetime
    last_login: datetime | None


class UserCollection(Collection):
    users: list[UserOut]


class UserIn(Body):
    """A new user."""

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1000)
    role: Role = Role.VIEWER
    email: str | None = Field(default=None, max_length=320)


class UserPatch(Body):
    """What can change on a user."""

    role: Role | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1000)
    email: str | None = Field(default=None, max_length=320)
