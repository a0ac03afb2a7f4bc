"""Initial schema: DAG runs, task instances and tries, XComs, pools, DAGs, import errors, audit log.

Revision ID: 0001
Revises:
Created: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_LEN = 250
DEFAULT_POOL_SLOTS = 128


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _id(name: str, primary_key: bool = False, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(ID_LEN), primary_key=primary_key, nullable=nullable)


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"],
        name=f"fk_{table}_dag_id_run_id_dag_run", ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "dag_run",
        _id("dag_id"),
        _id("run_id"),
        sa.Column("logical_date", _when(), nullable=False),
        sa.Column("data_interval_start", _when(), nullable=False),
        sa.Column("data_interval_end", _when(), nullable=False),
        sa.Column("run_type", sa.String(50), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("conf", sa.JSON(), nullable=False),
        sa.Column("queued_at", _when(), nullable=True),
        sa.Column("start_date", _when(), nullable=True),
        sa.Column("end_date", _when(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("dag_version", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("dag_id", "run_id", name="pk_dag_run"),
        sa.UniqueConstraint("dag_id", "logical_date", name="uq_dag_run_dag_id_logical_date"),
    )
    op.create_index("ix_dag_run_state", "dag_run", ["state"])

    op.create_table(
        "task_instance",
        _id("dag_id"),
        _id("run_id"),
        _id("task_id"),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("max_tries", sa.Integer(), nullable=False),
        sa.Column("pool", sa.String(256), nullable=False),
        sa.Column("pool_slots", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(256), nullable=False),
        sa.Column("priority_weight", sa.Integer(), nullable=False),
        sa.Column("start_date", _when(), nullable=True),
        sa.Column("end_date", _when(), nullable=True),
        sa.Column("next_retry_at", _when(), nullable=True),
        sa.Column("hostname", sa.String(1000), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("heartbeat_at", _when(), nullable=True),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index",
                                name="pk_task_instance"),
        _run_fk("task_instance"),
    )
    op.create_index("ix_task_instance_state", "task_instance", ["state"])

    op.create_table(
        "task_try",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _id("dag_id"),
        _id("run_id"),
        _id("task_id"),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("start_date", _when(), nullable=True),
        sa.Column("end_date", _when(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_task_try"),
        _run_fk("task_try"),
    )
    op.create_index(
        "ix_task_try_instance", "task_try", ["dag_id", "run_id", "task_id", "map_index"]
    )

    op.create_table(
        "xcom",
        _id("dag_id"),
        _id("run_id"),
        _id("task_id"),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", "key",
                                name="pk_xcom"),
        _run_fk("xcom"),
    )

    pool = op.create_table(
        "pool",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_pool"),
    )
    op.bulk_insert(
        pool,
        [{"name": "default_pool", "slots": DEFAULT_POOL_SLOTS, "description": "Default pool"}],
    )

    op.create_table(
        "dag",
        _id("dag_id"),
        sa.Column("fileloc", sa.Text(), nullable=True),
        sa.Column("is_paused", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("latest_version", sa.String(64), nullable=True),
        sa.Column("last_parsed", _when(), nullable=True),
        sa.Column("has_import_errors", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", name="pk_dag"),
    )

    op.create_table(
        "serialized_dag",
        _id("dag_id"),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("structure_json", sa.Text(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", "version", name="pk_serialized_dag"),
        sa.ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], name="fk_serialized_dag_dag_id_dag",
                                ondelete="CASCADE"),
    )

    op.create_table(
        "import_error",
        sa.Column("filename", sa.String(1000), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("timestamp", _when(), nullable=False),
        sa.PrimaryKeyConstraint("filename", name="pk_import_error"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("when", _when(), nullable=False),
        _id("who"),
        sa.Column("event", sa.String(100), nullable=False),
        _id("dag_id", nullable=True),
        _id("run_id", nullable=True),
        _id("task_id", nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_when", "audit_log", ["when"])
    op.create_index("ix_audit_log_dag_id", "audit_log", ["dag_id"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("import_error")
    op.drop_table("serialized_dag")
    op.drop_table("dag")
    op.drop_table("pool")
    op.drop_table("xcom")
    op.drop_table("task_try")
    op.drop_table("task_instance")
    op.drop_table("dag_run")
