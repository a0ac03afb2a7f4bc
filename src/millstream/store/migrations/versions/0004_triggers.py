"""Triggers of deferred tasks and the reschedule dates of sensors.

Revision ID: 0004
Revises: 0003
Created: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_LEN = 250
# Columns of a suspended try (a sensor's next poke, or a deferral) on task_instance.
SUSPENSION_COLUMNS = ("reschedule_date", "trigger_id", "trigger_timeout", "next_method",
                      "next_kwargs")


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "trigger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("classpath", sa.Text(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("created_date", _when(), nullable=False),
        sa.Column("triggerer_id", sa.String(ID_LEN), nullable=True),
        sa.Column("heartbeat_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_trigger"),
    )
    op.create_index("ix_trigger_triggerer_id", "trigger", ["triggerer_id"])

    op.create_table(
        "task_reschedule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(ID_LEN), nullable=False),
        sa.Column("run_id", sa.String(ID_LEN), nullable=False),
        sa.Column("task_id", sa.String(ID_LEN), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("start_date", _when(), nullable=False),
        sa.Column("end_date", _when(), nullable=False),
        sa.Column("reschedule_date", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_task_reschedule"),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"],
            name="fk_task_reschedule_dag_id_run_id_dag_run", ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_task_reschedule_instance", "task_reschedule",
        ["dag_id", "run_id", "task_id", "map_index", "try_number"],
    )

    op.add_column("task_instance", sa.Column("reschedule_date", _when(), nullable=True))
    op.add_column("task_instance", sa.Column("trigger_id", sa.Integer(), nullable=True))
    op.add_column("task_instance", sa.Column("trigger_timeout", _when(), nullable=True))
    op.add_column("task_instance", sa.Column("next_method", sa.String(1000), nullable=True))
    op.add_column("task_instance", sa.Column("next_kwargs", sa.JSON(), nullable=True))
    op.create_index("ix_task_instance_trigger_id", "task_instance", ["trigger_id"])


def downgrade() -> None:
    op.drop_index("ix_task_instance_trigger_id", table_name="task_instance")
    with op.batch_alter_table("task_instance") as batch:
        for name in SUSPENSION_COLUMNS:
            batch.drop_column(name)
    op.drop_index("ix_task_reschedule_instance", table_name="task_reschedule")
    op.drop_table("task_reschedule")
    op.drop_index("ix_trigger_triggerer_id", table_name="trigger")
    op.drop_table("trigger")
