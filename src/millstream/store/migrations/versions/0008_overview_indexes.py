"""Indexes for the overview page: runs and task instances by state and end date.

The UI's home lists the failed runs and task instances of the last hours across every
DAG; ``(state, end_date)`` makes that a range scan of the window instead of a read of all
failed rows ever.

Revision ID: 0008
Revises: 0007
Created: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_dag_run_state_end", "dag_run", ["state", "end_date"])
    op.create_index("ix_task_instance_state_end", "task_instance", ["state", "end_date"])


def downgrade() -> None:
    op.drop_index("ix_task_instance_state_end", table_name="task_instance")
    op.drop_index("ix_dag_run_state_end", table_name="dag_run")
