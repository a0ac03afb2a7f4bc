"""Scheduling that costs per due DAG and per unfinished task, never per row of history.

``dag.next_due_at`` keeps when each DAG's next scheduled run may be due, so a scheduler
round looks only at the DAGs whose moment has come. ``ix_dag_run_dag_state`` finds a
DAG's active runs, ``ix_dag_run_logical_date`` the newest runs of all DAGs,
``ix_task_instance_run_state`` a run's unfinished instances, and
``ix_task_instance_dispatch`` the scheduled instances in dispatch order, without reading
the finished rows beside them.

Revision ID: 0009
Revises: 0008
Created: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE_AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
"""Existing DAGs are looked at on the first round, which sets their real next moment."""


def upgrade() -> None:
    op.add_column("dag", sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True))
    dag = sa.table("dag", sa.column("next_due_at", sa.DateTime(timezone=True)))
    op.execute(dag.update().values(next_due_at=DUE_AT_ONCE))
    op.create_index("ix_dag_next_due_at", "dag", ["next_due_at"])
    op.create_index("ix_dag_run_dag_state", "dag_run", ["dag_id", "state"])
    op.create_index("ix_dag_run_logical_date", "dag_run", ["logical_date", "dag_id", "run_id"])
    op.create_index("ix_task_instance_run_state", "task_instance", ["dag_id", "run_id", "state"])
    op.create_index(
        "ix_task_instance_dispatch",
        "task_instance",
        ["state", sa.text("priority_weight DESC"), "dag_id", "run_id", "task_id", "map_index"],
    )


def downgrade() -> None:
    op.drop_index("ix_task_instance_dispatch", table_name="task_instance")
    op.drop_index("ix_task_instance_run_state", table_name="task_instance")
    op.drop_index("ix_dag_run_logical_date", table_name="dag_run")
    op.drop_index("ix_dag_run_dag_state", table_name="dag_run")
    op.drop_index("ix_dag_next_due_at", table_name="dag")
    with op.batch_alter_table("dag") as batch:
        batch.drop_column("next_due_at")
