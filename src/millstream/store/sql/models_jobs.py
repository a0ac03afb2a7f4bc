"""The table of the long-running services' heartbeats (a data-only row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from millstream.store.sql.models import Base
from millstream.store.sql.types import UtcDateTime


class JobRow(Base):
    """One service process (scheduler, triggerer ...) and its latest heartbeat."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_job_type_latest_heartbeat", "job_type", "latest_heartbeat"),)

    job_type: Mapped[str] = mapped_column(String(50), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    latest_heartbeat: Mapped[datetime] = mapped_column(UtcDateTime())
