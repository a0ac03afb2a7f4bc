"""Assets, asset events and the DAGs they schedule.

Revision ID: 0005
Revises: 0004
Created: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_LEN = 250
URI_LEN = 1500


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(ID_LEN), nullable=nullable)


def _asset_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["asset_id"], ["asset.id"], name=f"fk_{table}_asset_id_asset", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "asset",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uri", sa.String(URI_LEN), nullable=False),
        sa.Column("name", sa.String(URI_LEN), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("created", _when(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_asset"),
        sa.UniqueConstraint("uri", name="uq_asset_uri"),
    )

    op.create_table(
        "asset_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        _id("source_dag_id", nullable=True),
        _id("source_run_id", nullable=True),
        _id("source_task_id", nullable=True),
        sa.Column("source_map_index", sa.Integer(), nullable=False),
        sa.Column("timestamp", _when(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_asset_event"),
        _asset_fk("asset_event"),
    )
    op.create_index("ix_asset_event_asset_id_id", "asset_event", ["asset_id", "id"])

    op.create_table(
        "dag_schedule_asset",
        _id("dag_id"),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "asset_id", name="pk_dag_schedule_asset"),
        _asset_fk("dag_schedule_asset"),
    )
    op.create_index("ix_dag_schedule_asset_asset_id", "dag_schedule_asset", ["asset_id"])

    op.create_table(
        "task_outlet_asset",
        _id("dag_id"),
        _id("task_id"),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "task_id", "asset_id", name="pk_task_outlet_asset"),
        _asset_fk("task_outlet_asset"),
    )

    op.create_table(
        "asset_dag_queue",
        _id("dag_id"),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("first_event_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "asset_id", name="pk_asset_dag_queue"),
        _asset_fk("asset_dag_queue"),
    )

    op.create_table(
        "asset_event_dag_run",
        _id("dag_id"),
        _id("run_id"),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "event_id", name="pk_asset_event_dag_run"),
        sa.ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"],
            name="fk_asset_event_dag_run_dag_id_run_id_dag_run", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["asset_event.id"],
            name="fk_asset_event_dag_run_event_id_asset_event", ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("asset_event_dag_run")
    op.drop_table("asset_dag_queue")
    op.drop_table("task_outlet_asset")
    op.drop_index("ix_dag_schedule_asset_asset_id", table_name="dag_schedule_asset")
    op.drop_table("dag_schedule_asset")
    op.drop_index("ix_asset_event_asset_id_id", table_name="asset_event")
    op.drop_table("asset_event")
    op.drop_table("asset")
