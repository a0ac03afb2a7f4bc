"""Plain records of the web server's users, their API tokens and their login sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A person who may log in to the web server, with the role that says what they may do.

    ``password_hash`` is an argon2 hash (never the password); ``role`` is the name of a
    role (admin, op or viewer) that the web server checks.
    """

    username: str
    password_hash: str
    role: str
    created_at: datetime
    email: str | None = None
    last_login: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    """A bearer token for the REST API, acting as its user.

    Only a hash of the token is kept; ``token_id`` is the public part that names it.
    """

    token_id: str
    username: str
    token_hash: str
    name: str
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class LoginSessionRecord:
    """A logged-in browser session; its cookie holds a secret whose hash is ``session_hash``."""

    session_hash: str
    username: str
    created_at: datetime
    expires_at: datetime
