"""Users, roles and API tokens of the web server; login sessions; service heartbeats.

Revision ID: 0003
Revises: 0002
Created: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_LEN = 250
HASH_LEN = 128


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["username"], ["web_user.username"], name=f"fk_{table}_username_web_user",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "web_user",
        sa.Column("username", sa.String(ID_LEN), nullable=False),
        sa.Column("password_hash", sa.String(HASH_LEN), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("last_login", _when(), nullable=True),
        sa.PrimaryKeyConstraint("username", name="pk_web_user"),
    )

    op.create_table(
        "api_token",
        sa.Column("token_id", sa.String(64), nullable=False),
        sa.Column("username", sa.String(ID_LEN), nullable=False),
        sa.Column("token_hash", sa.String(HASH_LEN), nullable=False),
        sa.Column("name", sa.String(ID_LEN), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_api_token"),
        _user_fk("api_token"),
    )
    op.create_index("ix_api_token_token_hash", "api_token", ["token_hash"], unique=True)
    op.create_index("ix_api_token_username", "api_token", ["username"])

    op.create_table(
        "login_session",
        sa.Column("session_hash", sa.String(HASH_LEN), nullable=False),
        sa.Column("username", sa.String(ID_LEN), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("session_hash", name="pk_login_session"),
        _user_fk("login_session"),
    )
    op.create_index("ix_login_session_username", "login_session", ["username"])
    op.create_index("ix_login_session_expires_at", "login_session", ["expires_at"])

    op.create_table(
        "job",
        sa.Column("job_type", sa.String(50), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("latest_heartbeat", _when(), nullable=False),
        sa.PrimaryKeyConstraint("job_type", "hostname", "pid", name="pk_job"),
    )
    op.create_index("ix_job_job_type_latest_heartbeat", "job", ["job_type", "latest_heartbeat"])


def downgrade() -> None:
    op.drop_table("job")
    op.drop_table("login_session")
    op.drop_table("api_token")
    op.drop_table("web_user")
