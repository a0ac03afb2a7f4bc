"""The tables of the metadata database, as SQLAlchemy declarative rows that hold data only.

The schema itself is created by the Alembic migrations in ``store/migrations``;
these classes describe it for queries, and a test checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from millstream.store.sql.active_rows import ACTIVE_RUN_CONDITION, UNFINISHED_TI_CONDITION
from millstream.store.sql.types import UtcDateTime

ID_LEN = 250
"""Longest dag_id, run_id or task_id."""
STEP_ID_LEN = 32
"""A step id: a uuid4 in hex (see ``records.new_step_id``)."""

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """The declarative base: one metadata with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _run_fk() -> ForeignKeyConstraint:
    """Rows that belong to a DAG run go away with it."""
    return ForeignKeyConstraint(
        ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
    )


class DagRunRow(Base):
    """One run of a DAG for one logical date (see ``DagRunRecord``)."""

    __tablename__ = "dag_run"
    __table_args__ = (
        UniqueConstraint("dag_id", "logical_date"),
        # The schedule's resume point: the newest scheduled run of a DAG is one seek.
        Index("ix_dag_run_resume", "dag_id", "run_type", "logical_date"),
        # The overview: a state's runs that ended in a window (migration 0008).
        Index("ix_dag_run_state_end", "state", "end_date"),  # also by state alone (0014)
        # A DAG's active runs (max_active_runs, run creation) without reading its history,
        # in an index of the active runs alone (0013; see active_rows.py).
        Index("ix_dag_run_active", "dag_id", "logical_date", "state",
              sqlite_where=text(ACTIVE_RUN_CONDITION),
              postgresql_where=text(ACTIVE_RUN_CONDITION)),
        # The newest runs of every DAG (the REST API's run list) without a sort of all.
        Index("ix_dag_run_logical_date", "logical_date", "dag_id", "run_id"),
    )

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    logical_date: Mapped[datetime] = mapped_column(UtcDateTime())
    data_interval_start: Mapped[datetime] = mapped_column(UtcDateTime())
    data_interval_end: Mapped[datetime] = mapped_column(UtcDateTime())
    run_type: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(20))
    conf: Mapped[dict[str, Any]] = mapped_column(JSON())
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(Text())
    dag_version: Mapped[str | None] = mapped_column(String(64))


class DagRunCountRow(Base):
    """How many runs a DAG has in a state, kept by triggers on ``dag_run`` (migration
    0012) in the same transaction as the runs: pages count runs without reading them."""

    __tablename__ = "dag_run_count"

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), primary_key=True)
    runs: Mapped[int] = mapped_column(Integer())


class TaskInstanceRow(Base):
    """One task (one map index) in one DAG run (see ``TaskInstanceRecord``).

    The primary key (dag_id, run_id, task_id, map_index) also serves lookups by run.
    """

    __tablename__ = "task_instance"
    __table_args__ = (
        _run_fk(),
        # The overview (0008), and instances by state alone (0014).
        Index("ix_task_instance_state_end", "state", "end_date"),
        # A run's unfinished instances, in an index of the unfinished ones alone (0013).
        Index("ix_task_instance_unfinished", "dag_id", "run_id", "state",
              sqlite_where=text(UNFINISHED_TI_CONDITION),
              postgresql_where=text(UNFINISHED_TI_CONDITION)),
    )

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer(), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    try_number: Mapped[int] = mapped_column(Integer())
    max_tries: Mapped[int] = mapped_column(Integer())
    pool: Mapped[str] = mapped_column(String(256))
    pool_slots: Mapped[int] = mapped_column(Integer())
    queue: Mapped[str] = mapped_column(String(256))
    priority_weight: Mapped[int] = mapped_column(Integer())
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    hostname: Mapped[str | None] = mapped_column(String(1000))
    pid: Mapped[int | None] = mapped_column(Integer())
    error: Mapped[str | None] = mapped_column(Text())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # a suspended try (migration 0004): see TaskInstanceRecord
    reschedule_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    trigger_id: Mapped[int | None] = mapped_column(Integer(), index=True)
    trigger_timeout: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_method: Mapped[str | None] = mapped_column(String(1000))
    # None is SQL NULL, not JSON 'null': nearly every instance has none, and every read of
    # the text 'null' (a few per task in the scheduler's dispatch reads) was a json.loads.
    next_kwargs: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # the current step of the try (migration 0006): see TaskInstanceRecord
    step_id: Mapped[str | None] = mapped_column(String(STEP_ID_LEN))


# Dispatch reads scheduled instances in its order, so the first of them are one seek.
Index("ix_task_instance_dispatch", TaskInstanceRow.state, TaskInstanceRow.priority_weight.desc(),
      TaskInstanceRow.dag_id, TaskInstanceRow.run_id, TaskInstanceRow.task_id,
      TaskInstanceRow.map_index)


class TaskTryRow(Base):
    """The outcome of one finished try of a task instance (see ``TaskTryRecord``)."""

    __tablename__ = "task_try"
    __table_args__ = (
        _run_fk(),
        Index("ix_task_try_instance", "dag_id", "run_id", "task_id", "map_index"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer())
    try_number: Mapped[int] = mapped_column(Integer())
    state: Mapped[str] = mapped_column(String(20))
    start_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text())


class XComRow(Base):
    """One XCom value (JSON text) of one task instance."""

    __tablename__ = "xcom"
    __table_args__ = (_run_fk(),)

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer(), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    value: Mapped[str] = mapped_column(Text())


class PoolRow(Base):
    """A named pool of worker slots."""

    __tablename__ = "pool"

    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    slots: Mapped[int] = mapped_column(Integer())
    description: Mapped[str] = mapped_column(Text(), default="")


class DagRow(Base):
    """A DAG known from the DAG files: where it lives, whether it is paused, its latest version."""

    __tablename__ = "dag"

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    fileloc: Mapped[str | None] = mapped_column(Text())
    is_paused: Mapped[bool] = mapped_column(Boolean(), default=False)
    is_active: Mapped[bool] = mapped_column(Boolean(), default=True)
    latest_version: Mapped[str | None] = mapped_column(String(64))
    last_parsed: Mapped[datetime | None] = mapped_column(UtcDateTime())
    has_import_errors: Mapped[bool] = mapped_column(Boolean(), default=False)
    # When a scheduled run may next be due (migration 0009): only DAGs whose moment has
    # come are looked at. NULL: none will be until the DAG changes.
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)


class SerializedDagRow(Base):
    """One version of a DAG's structure (JSON text), named by its content hash."""

    __tablename__ = "serialized_dag"
    __table_args__ = (
        ForeignKeyConstraint(["dag_id"], ["dag.dag_id"], ondelete="CASCADE"),
    )

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    structure_json: Mapped[str] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ImportErrorRow(Base):
    """The current error of a DAG file that fails to load, with its traceback."""

    __tablename__ = "import_error"

    filename: Mapped[str] = mapped_column(String(1000), primary_key=True)
    traceback: Mapped[str] = mapped_column(Text())
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditLogRow(Base):
    """Who did what, when, to which DAG, run or task."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_when", "when"),
        Index("ix_audit_log_dag_id", "dag_id"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    when: Mapped[datetime] = mapped_column(UtcDateTime())
    who: Mapped[str] = mapped_column(String(ID_LEN))
    event: Mapped[str] = mapped_column(String(100))
    dag_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    run_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    task_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON())


TABLES = tuple(Base.metadata.sorted_tables)
"""Every table, parents before children."""
