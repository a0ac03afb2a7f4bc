"""The step of a try each task instance is on, so an outcome is only taken for its own step.

Revision ID: 0006
Revises: 0005
Created: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEP_ID_LEN = 32


def upgrade() -> None:
    # Rows queued before this revision keep no id: their steps name none either.
    op.add_column("task_instance",
                  sa.Column("step_id", sa.String(STEP_ID_LEN), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_instance") as batch:
        batch.drop_column("step_id")
