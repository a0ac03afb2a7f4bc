"""The schedule's resume point as one index seek, and the counter that wakes the scheduler.

``ix_dag_run_resume`` lets the newest scheduled run of a DAG be found without reading its
history; ``change_signal`` holds one counter that every writer outside the scheduler
raises, so the scheduler knows to look again.

Revision ID: 0007
Revises: 0006
Created: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNAL_NAME_LEN = 50


def upgrade() -> None:
    op.create_index("ix_dag_run_resume", "dag_run", ["dag_id", "run_type", "logical_date"])
    signal = op.create_table(
        "change_signal",
        sa.Column("name", sa.String(SIGNAL_NAME_LEN), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_change_signal"),
    )
    # The one row exists from the start, so raising it is always a plain UPDATE.
    op.bulk_insert(signal, [{"name": "runs", "counter": 0}])


def downgrade() -> None:
    op.drop_table("change_signal")
    op.drop_index("ix_dag_run_resume", table_name="dag_run")
