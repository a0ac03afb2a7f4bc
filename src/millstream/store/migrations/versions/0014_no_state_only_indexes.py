"""The state-only indexes of runs and instances dropped: the (state, end_date) ones serve.

``ix_dag_run_state`` and ``ix_task_instance_state`` index the state alone, which
``ix_dag_run_state_end`` and ``ix_task_instance_state_end`` (migration 0008) begin with:
a lookup by state reads either the same way. Every run and instance created, and every
state it changes to, wrote an entry in both, each the size of the whole history; and
PostgreSQL, whose statistics make a new run's state look rare, chose the state-only
index to find the row a compare-and-set changes, reading every instance of the new runs
each time (the store now writes that check so that no state index serves it).

Revision ID: 0014
Revises: 0013
Created: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_task_instance_state", table_name="task_instance")
    op.drop_index("ix_dag_run_state", table_name="dag_run")


def downgrade() -> None:
    op.create_index("ix_dag_run_state", "dag_run", ["state"])
    op.create_index("ix_task_instance_state", "task_instance", ["state"])
