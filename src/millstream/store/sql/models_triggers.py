"""The tables of deferral and reschedule: triggers and sensors' reschedules (data-only rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from millstream.store.sql.models import ID_LEN, Base
from millstream.store.sql.types import UtcDateTime


class TriggerRow(Base):
    """A trigger of deferred task instances (see ``TriggerRecord``)."""

    __tablename__ = "trigger"
    __table_args__ = (Index("ix_trigger_triggerer_id", "triggerer_id"),)

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    classpath: Mapped[str] = mapped_column(Text())
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON())
    created_date: Mapped[datetime] = mapped_column(UtcDateTime())
    triggerer_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TaskRescheduleRow(Base):
    """One poke of a reschedule-mode sensor that gave its slot back (``TaskRescheduleRecord``)."""

    __tablename__ = "task_reschedule"
    __table_args__ = (
        ForeignKeyConstraint(
            ["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"], ondelete="CASCADE"
        ),
        Index("ix_task_reschedule_instance", "dag_id", "run_id", "task_id", "map_index",
              "try_number"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer())
    try_number: Mapped[int] = mapped_column(Integer())
    start_date: Mapped[datetime] = mapped_column(UtcDateTime())
    end_date: Mapped[datetime] = mapped_column(UtcDateTime())
    reschedule_date: Mapped[datetime] = mapped_column(UtcDateTime())
