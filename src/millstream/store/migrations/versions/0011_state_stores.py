"""The task and asset state stores: key/value entries kept across tries and runs.

``task_state`` holds the keys of one task instance (they go with its run, or when they
expire); ``asset_state`` the keys of one asset, by its URI (kept until deleted).

Revision ID: 0011
Revises: 0010
Created: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_LEN = 250
KEY_LEN = 250
URI_LEN = 1500


def upgrade() -> None:
    op.create_table(
        "task_state",
        sa.Column("dag_id", sa.String(ID_LEN), nullable=False),
        sa.Column("run_id", sa.String(ID_LEN), nullable=False),
        sa.Column("task_id", sa.String(ID_LEN), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(KEY_LEN), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", "key",
                                name="pk_task_state"),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"],
            name="fk_task_state_dag_id_run_id_dag_run", ondelete="CASCADE",
        ),
    )
    op.create_index("ix_task_state_expires_at", "task_state", ["expires_at"])
    op.create_table(
        "asset_state",
        sa.Column("asset_uri", sa.String(URI_LEN), nullable=False),
        sa.Column("key", sa.String(KEY_LEN), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("asset_uri", "key", name="pk_asset_state"),
    )


def downgrade() -> None:
    op.drop_table("asset_state")
    op.drop_index("ix_task_state_expires_at", table_name="task_state")
    op.drop_table("task_state")
