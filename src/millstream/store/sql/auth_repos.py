"""The web server's users, API tokens and login sessions over SQL (repos never commit)."""

from __future__ import annotations

import builtins
from dataclasses import fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, func, insert, select, update
from sqlalchemy.orm import Session

from millstream.exceptions import NotFoundError
from millstream.store.auth_records import ApiTokenRecord, LoginSessionRecord, UserRecord
from millstream.store.sql.common import conflicts_as_value_error, rowcount
from millstream.store.sql.convert import check_aware
from millstream.store.sql.models_auth import ApiTokenRow, LoginSessionRow, WebUserRow

USER_TABLE = cast(Table, WebUserRow.__table__)
TOKEN_TABLE = cast(Table, ApiTokenRow.__table__)
SESSION_TABLE = cast(Table, LoginSessionRow.__table__)

_USER_FIELDS = tuple(f.name for f in fields(UserRecord))
_TOKEN_FIELDS = tuple(f.name for f in fields(ApiTokenRecord))
_SESSION_FIELDS = tuple(f.name for f in fields(LoginSessionRecord))
_USER_COLUMNS = tuple(USER_TABLE.c[name] for name in _USER_FIELDS)
_TOKEN_COLUMNS = tuple(TOKEN_TABLE.c[name] for name in _TOKEN_FIELDS)
_SESSION_COLUMNS = tuple(SESSION_TABLE.c[name] for name in _SESSION_FIELDS)
_CHANGEABLE_USER_FIELDS = frozenset(_USER_FIELDS) - {"username", "created_at"}


def _values(owner: str, record: Any, names: tuple[str, ...]) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in names}
    for name, value in values.items():
        if isinstance(value, datetime):
            check_aware(owner, name, value)
    return values


def _row(row: Row[Any]) -> tuple[Any, ...]:
    return cast(tuple[Any, ...], row)


class SqlUserRepo:
    """Users in ``web_user``; their tokens and sessions are deleted with them (CASCADE)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, user: UserRecord) -> None:
        values = _values(f"user {user.username!r}", user, _USER_FIELDS)
        with conflicts_as_value_error(self.session, f"a user {user.username!r} already exists"):
            self.session.execute(insert(USER_TABLE), [values])

    def get(self, username: str) -> UserRecord | None:
        row = self.session.execute(
            select(*_USER_COLUMNS).where(USER_TABLE.c.username == username)
        ).first()
        return UserRecord(*_row(row)) if row is not None else None

    def list(self, limit: int = 100, offset: int = 0) -> builtins.list[UserRecord]:
        query = (select(*_USER_COLUMNS).order_by(USER_TABLE.c.username)
                 .limit(limit).offset(offset))
        return [UserRecord(*_row(row)) for row in self.session.execute(query)]

    def count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(USER_TABLE)).scalar_one())

    def update(self, username: str, **changes: Any) -> UserRecord:
        unknown = set(changes) - _CHANGEABLE_USER_FIELDS
        if unknown:
            raise AttributeError(f"user {username!r}: no field {sorted(unknown)[0]!r} to set")
        for name, value in changes.items():
            if isinstance(value, datetime):
                check_aware(f"user {username!r}", name, value)
        if changes:
            result = self.session.execute(
                update(USER_TABLE).where(USER_TABLE.c.username == username).values(**changes)
            )
            if rowcount(result) != 1:
                raise NotFoundError(f"no user {username!r}")
        user = self.get(username)
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        return user

    def delete(self, username: str) -> bool:
        result = self.session.execute(delete(USER_TABLE).where(USER_TABLE.c.username == username))
        return rowcount(result) > 0


class SqlApiTokenRepo:
    """API token hashes in ``api_token``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, token: ApiTokenRecord) -> None:
        values = _values(f"API token {token.token_id!r}", token, _TOKEN_FIELDS)
        with conflicts_as_value_error(
            self.session, f"cannot add API token {token.token_id!r} of user {token.username!r}"
        ):
            self.session.execute(insert(TOKEN_TABLE), [values])

    def by_hash(self, token_hash: str) -> ApiTokenRecord | None:
        row = self.session.execute(
            select(*_TOKEN_COLUMNS).where(TOKEN_TABLE.c.token_hash == token_hash)
        ).first()
        return ApiTokenRecord(*_row(row)) if row is not None else None

    def list(self, username: str | None = None) -> builtins.list[ApiTokenRecord]:
        query = select(*_TOKEN_COLUMNS).order_by(TOKEN_TABLE.c.created_at,
                                                 TOKEN_TABLE.c.token_id)
        if username is not None:
            query = query.where(TOKEN_TABLE.c.username == username)
        return [ApiTokenRecord(*_row(row)) for row in self.session.execute(query)]

    def delete(self, token_id: str) -> bool:
        result = self.session.execute(delete(TOKEN_TABLE).where(TOKEN_TABLE.c.token_id == token_id))
        return rowcount(result) > 0


class SqlLoginSessionRepo:
    """Login session hashes in ``login_session``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, session: LoginSessionRecord) -> None:
        values = _values(f"login session of {session.username!r}", session, _SESSION_FIELDS)
        with conflicts_as_value_error(
            self.session, f"cannot add a login session of user {session.username!r}"
        ):
            self.session.execute(insert(SESSION_TABLE), [values])

    def get(self, session_hash: str) -> LoginSessionRecord | None:
        row = self.session.execute(
            select(*_SESSION_COLUMNS).where(SESSION_TABLE.c.session_hash == session_hash)
        ).first()
        return LoginSessionRecord(*_row(row)) if row is not None else None

    def delete(self, session_hash: str) -> bool:
        result = self.session.execute(
            delete(SESSION_TABLE).where(SESSION_TABLE.c.session_hash == session_hash)
        )
        return rowcount(result) > 0

    def delete_expired(self, now: datetime) -> int:
        check_aware("login sessions", "now", now)
        result = self.session.execute(
            delete(SESSION_TABLE).where(SESSION_TABLE.c.expires_at < now)
        )
        return rowcount(result)
