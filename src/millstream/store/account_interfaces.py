"""The repositories of accounts and secrets: users, API tokens, login sessions, variables
and connections (part of :class:`millstream.store.interfaces.Store`)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, Protocol

from millstream.store.auth_records import ApiTokenRecord, LoginSessionRecord, UserRecord
from millstream.store.secrets_records import ConnectionRecord, VariableRecord


class UserRepo(Protocol):
    """The web server's users."""

    def add(self, user: UserRecord) -> None:
        """Add a user; a username already taken is a ConflictError."""
        ...

    def get(self, username: str) -> UserRecord | None: ...

    def list(self, limit: int = 100, offset: int = 0) -> builtins.list[UserRecord]:
        """Users by username."""
        ...

    def count(self) -> int: ...

    def update(self, username: str, **fields: Any) -> UserRecord:
        """Change fields (password_hash, role, email, last_login); unknown user: NotFoundError."""
        ...

    def delete(self, username: str) -> bool:
        """Remove a user with their tokens and sessions; False if there was none."""
        ...


class ApiTokenRepo(Protocol):
    """Bearer tokens of the REST API, kept as hashes."""

    def add(self, token: ApiTokenRecord) -> None: ...

    def by_hash(self, token_hash: str) -> ApiTokenRecord | None: ...

    def list(self, username: str | None = None) -> builtins.list[ApiTokenRecord]:
        """Tokens (of one user, or of all), oldest first."""
        ...

    def delete(self, token_id: str) -> bool: ...


class LoginSessionRepo(Protocol):
    """Logged-in browser sessions, kept as hashes of their cookies' secrets."""

    def add(self, session: LoginSessionRecord) -> None: ...

    def get(self, session_hash: str) -> LoginSessionRecord | None: ...

    def delete(self, session_hash: str) -> bool: ...

    def delete_expired(self, now: datetime) -> int:
        """Remove the sessions that expired before ``now``; returns how many."""
        ...


class VariableRepo(Protocol):
    """Variables; values arrive and leave as stored (ciphertext when ``is_encrypted``)."""

    def get(self, key: str) -> VariableRecord | None: ...

    def set(self, record: VariableRecord) -> None:
        """Create the variable or replace every field of it."""
        ...

    def delete(self, key: str) -> bool:
        """Remove a variable; False if there was none."""
        ...

    def count(self) -> int: ...

    def list(self, limit: int | None = None, offset: int = 0) -> builtins.list[VariableRecord]:
        """Variables by key; ``limit`` None means all of them."""
        ...


class ConnectionRepo(Protocol):
    """Connections; password and extra arrive and leave as stored (ciphertext per their flags)."""

    def get(self, conn_id: str) -> ConnectionRecord | None: ...

    def set(self, record: ConnectionRecord) -> None:
        """Create the connection or replace every field of it."""
        ...

    def delete(self, conn_id: str) -> bool:
        """Remove a connection; False if there was none."""
        ...

    def count(self) -> int: ...

    def list(self, limit: int | None = None, offset: int = 0) -> builtins.list[ConnectionRecord]:
        """Connections by conn_id; ``limit`` None means all of them."""
        ...


__all__ = ["ApiTokenRepo", "ConnectionRepo", "LoginSessionRepo", "UserRepo", "VariableRepo"]
