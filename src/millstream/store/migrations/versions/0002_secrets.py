"""Connections and variables.

Revision ID: 0002
Revises: 0001
Created: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_LEN = 250


def upgrade() -> None:
    op.create_table(
        "variable",
        sa.Column("key", sa.String(ID_LEN), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_encrypted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_variable"),
    )
    op.create_table(
        "connection",
        sa.Column("conn_id", sa.String(ID_LEN), nullable=False),
        sa.Column("conn_type", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("host", sa.String(500), nullable=True),
        sa.Column("schema", sa.String(500), nullable=True),
        sa.Column("login", sa.Text(), nullable=True),
        sa.Column("password", sa.Text(), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.Column("is_encrypted", sa.Boolean(), nullable=False),
        sa.Column("is_extra_encrypted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("conn_id", name="pk_connection"),
    )


def downgrade() -> None:
    op.drop_table("connection")
    op.drop_table("variable")
