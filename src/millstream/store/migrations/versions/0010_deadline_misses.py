"""Missed deadlines: a task's sla or a DAG's deadline alert, one row per miss.

Revision ID: 0010
Revises: 0009
Created: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_LEN = 250


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deadline_miss",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(ID_LEN), nullable=False),
        sa.Column("run_id", sa.String(ID_LEN), nullable=False),
        sa.Column("task_id", sa.String(ID_LEN), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("deadline", _when(), nullable=False),
        sa.Column("detected_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deadline_miss"),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"],
            name="fk_deadline_miss_dag_id_run_id_dag_run", ondelete="CASCADE",
        ),
        sa.UniqueConstraint("dag_id", "run_id", "task_id", "kind", "deadline",
                            name="uq_deadline_miss_dag_id_run_id_task_id_kind_deadline"),
    )
    op.create_index("ix_deadline_miss_detected_at", "deadline_miss", ["detected_at"])


def downgrade() -> None:
    op.drop_index("ix_deadline_miss_detected_at", table_name="deadline_miss")
    op.drop_table("deadline_miss")
