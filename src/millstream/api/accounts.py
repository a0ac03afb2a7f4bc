"""Users, roles, passwords, API tokens and login sessions: the rules, over the store's repos.

Passwords are kept as argon2 hashes. API tokens and session secrets are long random
strings, kept as SHA-256 hashes (they carry enough entropy that a slow hash adds nothing,
and every request checks one). Creating and deleting users and tokens are audited
actions. Nothing here knows about HTTP: the web server and the command line both use it.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from millstream.exceptions import ConflictError, InvalidInputError, NotFoundError
from millstream.model.limits import MAX_TOKEN_DAYS
from millstream.store.audit import audit
from millstream.store.auth_records import ApiTokenRecord, LoginSessionRecord, UserRecord
from millstream.store.interfaces import Store

MIN_PASSWORD_LENGTH = 8
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$"
TOKEN_PREFIX = "ms_"
MAX_TOKEN_LIFETIME = timedelta(days=MAX_TOKEN_DAYS)

_USERNAME = re.compile(USERNAME_PATTERN)
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to check a password against for an unknown user: it costs as much as for a
    known one, so response times do not tell which usernames exist."""
    return _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    """What a user may do: admin ⊇ op ⊇ viewer.

    viewer reads everything but connections and variables; op also triggers, clears,
    marks and pauses, and edits pools, connections and variables; admin also manages users.
    """

    ADMIN = "admin"
    OP = "op"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def includes(self, other: Role | str) -> bool:
        """Whether this role may do everything ``other`` may."""
        return self.rank >= Role(other).rank

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role named ``value``, or an InvalidInputError listing the roles."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            choices = ", ".join(role.value for role in cls)
            raise InvalidInputError(f"unknown role {value!r}: use one of {choices}") from None


_RANKS = {Role.VIEWER: 0, Role.OP: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class User:
    """The user a request acts as."""

    username: str
    role: Role
    email: str | None = None

    def has_role(self, role: Role | str) -> bool:
        return self.role.includes(role)

    @classmethod
    def from_record(cls, record: UserRecord) -> User:
        return cls(record.username, Role(record.role), record.email)


# -- passwords ---------------------------------------------------------------------------------
def hash_password(password: str) -> str:
    """An argon2 hash of ``password``."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A new random password (about 144 bits), safe to type and to paste."""
    return secrets.token_urlsafe(18)


def check_username(username: str) -> str:
    """``username``, or an InvalidInputError saying what a username may hold."""
    if not _USERNAME.match(username):
        raise InvalidInputError(
            f"bad username {username!r}: use 1-100 letters, digits and . _ @ + -, "
            "starting with a letter or digit"
        )
    return username


def check_password(password: str) -> str:
    """``password``, or an InvalidInputError if it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


# -- users -------------------------------------------------------------------------------------
def create_user(store: Store, username: str, password: str, role: Role | str, who: str,
                now: datetime, email: str | None = None) -> UserRecord:
    """Add a user (audited); a taken username is a ConflictError, bad input an InvalidInputError."""
    check_username(username)
    check_password(password)
    chosen = Role.parse(role)
    record = UserRecord(username, hash_password(password), chosen.value, now, email or None)
    with store.transaction():
        store.users.add(record)
        audit(store, "user_create", who, now, user=username, role=chosen.value)
    return record


def update_user(store: Store, username: str, who: str, now: datetime, *,
                role: Role | str | None = None, password: str | None = None,
                email: str | None = None) -> UserRecord:
    """Change a user's role, password or email (audited; the password is never recorded)."""
    changes: dict[str, object] = {}
    if role is not None:
        changes["role"] = Role.parse(role).value
    if password is not None:
        changes["password_hash"] = hash_password(check_password(password))
    if email is not None:
        changes["email"] = email or None
    with store.transaction():
        current = store.users.get(username)
        if current is None:
            raise NotFoundError(f"no user {username!r}")
        if current.role == Role.ADMIN and changes.get("role", Role.ADMIN) != Role.ADMIN:
            _keep_an_admin(store, username, "lose the admin role")
        updated = store.users.update(username, **changes)
        shown = sorted("password" if name == "password_hash" else name for name in changes)
        audit(store, "user_update", who, now, user=username, changed=shown,
              role=updated.role)
    return updated


def delete_user(store: Store, username: str, who: str, now: datetime) -> None:
    """Remove a user with their tokens and sessions (audited); unknown: NotFoundError."""
    with store.transaction():
        current = store.users.get(username)
        if current is None:
            raise NotFoundError(f"no user {username!r}")
        if current.role == Role.ADMIN:
            _keep_an_admin(store, username, "be deleted")
        store.users.delete(username)
        audit(store, "user_delete", who, now, user=username)


def _keep_an_admin(store: Store, username: str, change: str) -> None:
    """A ConflictError if ``username`` is the only admin: nobody could manage users after."""
    users = store.users.list(limit=max(store.users.count(), 1))
    if not any(u.role == Role.ADMIN and u.username != username for u in users):
        raise ConflictError(f"user {username!r} is the only admin and cannot {change}: make "
                         "another user admin first")


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The user with this username and password, or None (the same for either mistake)."""
    with store.transaction():
        record = store.users.get(username)
    if record is None:
        password_matches(_dummy_hash(), password)
        return None
    if not password_matches(record.password_hash, password):
        return None
    if _hasher.check_needs_rehash(record.password_hash):
        with store.transaction():
            store.users.update(username, password_hash=hash_password(password))
    return User.from_record(record)


# -- API tokens --------------------------------------------------------------------------------
def secret_hash(secret: str) -> str:
    """The SHA-256 hash under which a token or session secret is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, username: str, who: str, now: datetime, name: str = "",
                 expires_in: timedelta | None = None) -> tuple[ApiTokenRecord, str]:
    """A new API token for ``username`` (audited): its record, and the token itself,
    which is shown this once and never stored."""
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInputError("a token must expire in the future")
    if expires_in is not None and expires_in > MAX_TOKEN_LIFETIME:
        raise InvalidInputError(f"a token may last at most {MAX_TOKEN_LIFETIME.days} days; "
                                "leave the expiry out for a token that never expires")
    token_id = secrets.token_hex(8)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    record = ApiTokenRecord(token_id, username, secret_hash(token), name or f"token {token_id}",
                            now, None if expires_in is None else now + expires_in)
    with store.transaction():
        if store.users.get(username) is None:
            raise NotFoundError(f"no user {username!r}")
        store.api_tokens.add(record)
        audit(store, "token_create", who, now, user=username, token_id=token_id,
              expires_at=None if record.expires_at is None else record.expires_at.isoformat())
    return record, token


def delete_token(store: Store, token_id: str, who: str, now: datetime) -> None:
    """Revoke an API token (audited); unknown: NotFoundError."""
    with store.transaction():
        if not store.api_tokens.delete(token_id):
            raise NotFoundError(f"no API token {token_id!r}")
        audit(store, "token_delete", who, now, token_id=token_id)


def user_for_token(store: Store, token: str, now: datetime) -> User | None:
    """The user an API token acts as, or None if it is unknown, revoked or expired."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with store.transaction():
        record = store.api_tokens.by_hash(secret_hash(token))
        if record is None or (record.expires_at is not None and record.expires_at <= now):
            return None
        user = store.users.get(record.username)
    return None if user is None else User.from_record(user)


# -- login sessions ----------------------------------------------------------------------------
def open_login_session(store: Store, username: str, now: datetime,
                       lifetime: timedelta) -> str:
    """Start a session for ``username``; returns the secret for its cookie.

    Sessions that have expired are removed on the way, so the table does not grow.
    """
    secret = secrets.token_urlsafe(32)
    with store.transaction():
        store.login_sessions.delete_expired(now)
        store.login_sessions.add(
            LoginSessionRecord(secret_hash(secret), username, now, now + lifetime))
        store.users.update(username, last_login=now)
    return secret


def user_for_session(store: Store, secret: str, now: datetime) -> User | None:
    """The user of a session cookie's secret, or None if it is unknown, ended or expired."""
    with store.transaction():
        session = store.login_sessions.get(secret_hash(secret))
        if session is None or session.expires_at <= now:
            return None
        user = store.users.get(session.username)
    return None if user is None else User.from_record(user)


def close_login_session(store: Store, secret: str) -> bool:
    """End a session (log out); False if it had already ended."""
    with store.transaction():
        return store.login_sessions.delete(secret_hash(secret))
