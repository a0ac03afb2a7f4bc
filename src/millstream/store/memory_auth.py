"""The in-memory users, API tokens and login sessions of the web server (for tests)."""

from __future__ import annotations

import builtins
from dataclasses import fields, replace
from datetime import datetime
from typing import Any

from millstream.exceptions import ConflictError, NotFoundError
from millstream.store.auth_records import ApiTokenRecord, LoginSessionRecord, UserRecord
from millstream.store.memory_journal import Journal, JournaledRepo

_USER_FIELDS = frozenset(f.name for f in fields(UserRecord)) - {"username", "created_at"}


class MemoryApiTokenRepo(JournaledRepo):
    """API tokens in a dict keyed by token id."""

    STATE = ("_tokens",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._tokens: dict[str, ApiTokenRecord] = {}

    def add(self, token: ApiTokenRecord) -> None:
        if token.token_id in self._tokens:
            raise ConflictError(f"an API token {token.token_id!r} already exists")
        self._changing()
        self._tokens[token.token_id] = token

    def by_hash(self, token_hash: str) -> ApiTokenRecord | None:
        for token in self._tokens.values():
            if token.token_hash == token_hash:
                return token
        return None

    def list(self, username: str | None = None) -> builtins.list[ApiTokenRecord]:
        found = [t for t in self._tokens.values() if username is None or t.username == username]
        return sorted(found, key=lambda t: (t.created_at, t.token_id))

    def delete(self, token_id: str) -> bool:
        self._changing()
        return self._tokens.pop(token_id, None) is not None

    def forget_user(self, username: str) -> None:
        self._changing()
        for token in self.list(username):
            del self._tokens[token.token_id]


class MemoryLoginSessionRepo(JournaledRepo):
    """Login sessions in a dict keyed by the hash of their secret."""

    STATE = ("_sessions",)

    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._sessions: dict[str, LoginSessionRecord] = {}

    def add(self, session: LoginSessionRecord) -> None:
        if session.session_hash in self._sessions:
            raise ConflictError("a login session with this secret already exists")
        self._changing()
        self._sessions[session.session_hash] = session

    def get(self, session_hash: str) -> LoginSessionRecord | None:
        return self._sessions.get(session_hash)

    def delete(self, session_hash: str) -> bool:
        self._changing()
        return self._sessions.pop(session_hash, None) is not None

    def delete_expired(self, now: datetime) -> int:
        self._changing()
        gone = [h for h, s in self._sessions.items() if s.expires_at < now]
        for session_hash in gone:
            del self._sessions[session_hash]
        return len(gone)

    def forget_user(self, username: str) -> None:
        self._changing()
        for session_hash in [h for h, s in self._sessions.items() if s.username == username]:
            del self._sessions[session_hash]


class MemoryUserRepo(JournaledRepo):
    """Users in a dict; deleting one also deletes their tokens and sessions."""

    STATE = ("_users",)

    def __init__(self, tokens: MemoryApiTokenRepo, sessions: MemoryLoginSessionRepo,
                 journal: Journal | None = None) -> None:
        super().__init__(journal)
        self._users: dict[str, UserRecord] = {}
        self._tokens = tokens
        self._sessions = sessions

    def add(self, user: UserRecord) -> None:
        if user.username in self._users:
            raise ConflictError(f"a user {user.username!r} already exists")
        self._changing()
        self._users[user.username] = user

    def get(self, username: str) -> UserRecord | None:
        return self._users.get(username)

    def list(self, limit: int = 100, offset: int = 0) -> builtins.list[UserRecord]:
        ordered = sorted(self._users.values(), key=lambda u: u.username)
        return ordered[offset:offset + limit]

    def count(self) -> int:
        return len(self._users)

    def update(self, username: str, **changes: Any) -> UserRecord:
        user = self._users.get(username)
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        unknown = set(changes) - _USER_FIELDS
        if unknown:
            raise AttributeError(f"user {username!r}: no field {sorted(unknown)[0]!r} to set")
        self._changing()
        updated = replace(user, **changes)
        self._users[username] = updated
        return updated

    def delete(self, username: str) -> bool:
        if username not in self._users:
            return False
        self._changing()
        del self._users[username]
        self._tokens.forget_user(username)
        self._sessions.forget_user(username)
        return True


def memory_auth_repos(
    journal: Journal | None = None,
) -> tuple[MemoryUserRepo, MemoryApiTokenRepo, MemoryLoginSessionRepo]:
    """The users, API token and login session repositories of one memory store."""
    tokens = MemoryApiTokenRepo(journal)
    sessions = MemoryLoginSessionRepo(journal)
    return MemoryUserRepo(tokens, sessions, journal), tokens, sessions
