"""The tables of assets: assets, their events, DAG and task references, queues, run links.

Rows hold data only (see ``store/sql/asset_repos.py`` for the queries); the schema is
created by migration 0005.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from millstream.store.sql.models import ID_LEN, Base
from millstream.store.sql.types import UtcDateTime

URI_LEN = 1500
"""Longest asset name or URI."""


def _asset_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["asset_id"], ["asset.id"], ondelete="CASCADE")


class AssetRow(Base):
    """A piece of data tasks update and DAGs are scheduled on, identified by its URI."""

    __tablename__ = "asset"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    uri: Mapped[str] = mapped_column(String(URI_LEN), unique=True)
    name: Mapped[str] = mapped_column(String(URI_LEN))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON())
    created: Mapped[datetime] = mapped_column(UtcDateTime())


class AssetEventRow(Base):
    """One update of an asset, and the task try that made it (kept after its run is gone)."""

    __tablename__ = "asset_event"
    __table_args__ = (
        _asset_fk(),
        Index("ix_asset_event_asset_id_id", "asset_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(Integer())
    source_dag_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    source_run_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    source_task_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    source_map_index: Mapped[int] = mapped_column(Integer())
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime())
    extra: Mapped[dict[str, Any]] = mapped_column(JSON())


class DagScheduleAssetRow(Base):
    """A DAG scheduled on an asset."""

    __tablename__ = "dag_schedule_asset"
    __table_args__ = (
        _asset_fk(),
        Index("ix_dag_schedule_asset_asset_id", "asset_id"),
    )

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    asset_id: Mapped[int] = mapped_column(Integer(), primary_key=True)


class TaskOutletAssetRow(Base):
    """A task that updates an asset when it succeeds."""

    __tablename__ = "task_outlet_asset"
    __table_args__ = (_asset_fk(),)

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    asset_id: Mapped[int] = mapped_column(Integer(), primary_key=True)


class AssetDagQueueRow(Base):
    """An asset updated since the last asset-triggered run of a DAG scheduled on it."""

    __tablename__ = "asset_dag_queue"
    __table_args__ = (_asset_fk(),)

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    asset_id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    first_event_id: Mapped[int] = mapped_column(Integer())
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AssetEventDagRunRow(Base):
    """An event a run was created from (goes with the run)."""

    __tablename__ = "asset_event_dag_run"
    __table_args__ = (
        ForeignKeyConstraint(["dag_id", "run_id"], ["dag_run.dag_id", "dag_run.run_id"],
                             ondelete="CASCADE"),
        ForeignKeyConstraint(["event_id"], ["asset_event.id"], ondelete="CASCADE"),
    )

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer(), primary_key=True)
