"""The tables of the web server's users, API tokens and login sessions (data-only rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from millstream.store.sql.models import ID_LEN, Base
from millstream.store.sql.types import UtcDateTime

HASH_LEN = 128
"""Longest stored hash (argon2 hashes are about 100 characters, SHA-256 hex 64)."""


def _user_fk() -> ForeignKeyConstraint:
    """Tokens and sessions go away with their user."""
    return ForeignKeyConstraint(["username"], ["web_user.username"], ondelete="CASCADE")


class WebUserRow(Base):
    """A user of the web server (see ``UserRecord``)."""

    __tablename__ = "web_user"

    username: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    email: Mapped[str | None] = mapped_column(String(320))
    last_login: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ApiTokenRow(Base):
    """A bearer token of the REST API, kept as a hash (see ``ApiTokenRecord``)."""

    __tablename__ = "api_token"
    __table_args__ = (
        _user_fk(),
        Index("ix_api_token_token_hash", "token_hash", unique=True),
        Index("ix_api_token_username", "username"),
    )

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(ID_LEN))
    token_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    name: Mapped[str] = mapped_column(String(ID_LEN))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class LoginSessionRow(Base):
    """A logged-in browser session, kept as a hash of its secret (see ``LoginSessionRecord``)."""

    __tablename__ = "login_session"
    __table_args__ = (
        _user_fk(),
        Index("ix_login_session_username", "username"),
        Index("ix_login_session_expires_at", "expires_at"),
    )

    session_hash: Mapped[str] = mapped_column(String(HASH_LEN), primary_key=True)
    username: Mapped[str] = mapped_column(String(ID_LEN))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
