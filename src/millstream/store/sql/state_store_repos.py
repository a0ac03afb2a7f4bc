"""The task and asset state stores over SQL: the ``task_state`` and ``asset_state`` tables."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Index, Integer, String, Table, Text, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from millstream.model.state_retention import MAX_KEY_LENGTH
from millstream.store.sql.convert import check_aware
from millstream.store.sql.models import ID_LEN, Base, _run_fk
from millstream.store.sql.models_assets import URI_LEN
from millstream.store.sql.types import UtcDateTime
from millstream.store.state_store_records import TaskStateScope


class TaskStateRow(Base):
    """One key of one task instance's state store (goes away with its run)."""

    __tablename__ = "task_state"
    __table_args__ = (_run_fk(), Index("ix_task_state_expires_at", "expires_at"))

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    map_index: Mapped[int] = mapped_column(Integer(), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(Text())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AssetStateRow(Base):
    """One key of one asset's state store (by the asset's URI; kept until deleted)."""

    __tablename__ = "asset_state"

    asset_uri: Mapped[str] = mapped_column(String(URI_LEN), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    value: Mapped[str] = mapped_column(Text())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


_TASK = cast(Table, TaskStateRow.__table__).c
_ASSET = cast(Table, AssetStateRow.__table__).c


def _of(scope: TaskStateScope) -> tuple[ColumnElement[bool], ...]:
    return (_TASK.dag_id == scope.dag_id, _TASK.run_id == scope.run_id,
            _TASK.task_id == scope.task_id, _TASK.map_index == scope.map_index)


def _live(now: datetime) -> ColumnElement[bool]:
    return or_(_TASK.expires_at.is_(None), _TASK.expires_at > now)


class SqlStateStoreRepo:
    """Both state stores; a write replaces the key's row (or adds it)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- task state -------------------------------------------------------------------------
    def get_task_state(self, scope: TaskStateScope, key: str, now: datetime) -> str | None:
        check_aware("task state", "now", now)
        return self.session.execute(
            select(_TASK.value).where(*_of(scope), _TASK.key == key, _live(now))
        ).scalar_one_or_none()

    def set_task_state(self, scope: TaskStateScope, key: str, value_json: str,
                       expires_at: datetime | None, now: datetime) -> None:
        check_aware("task state", "now", now)
        if expires_at is not None:
            check_aware("task state", "expires_at", expires_at)
        identity = (scope.dag_id, scope.run_id, scope.task_id, scope.map_index, key)
        row = self.session.get(TaskStateRow, identity)
        if row is not None:
            row.value, row.expires_at, row.updated_at = value_json, expires_at, now
            self.session.flush()
            return
        self.session.add(TaskStateRow(
            dag_id=scope.dag_id, run_id=scope.run_id, task_id=scope.task_id,
            map_index=scope.map_index, key=key, value=value_json, expires_at=expires_at,
            updated_at=now))
        self.session.flush()

    def delete_task_state(self, scope: TaskStateScope, key: str) -> None:
        self.session.execute(delete(TaskStateRow).where(*_of(scope), _TASK.key == key))

    def clear_task_state(self, scope: TaskStateScope) -> int:
        result = self.session.execute(delete(TaskStateRow).where(*_of(scope)))
        return int(getattr(result, "rowcount", 0) or 0)

    def task_state_keys(self, scope: TaskStateScope, now: datetime) -> list[str]:
        return list(self.session.scalars(
            select(_TASK.key).where(*_of(scope), _live(now)).order_by(_TASK.key)))

    def purge_expired(self, now: datetime) -> int:
        check_aware("task state", "now", now)
        result = self.session.execute(delete(TaskStateRow).where(
            _TASK.expires_at.is_not(None), _TASK.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)

    # -- asset state ------------------------------------------------------------------------
    def get_asset_state(self, uri: str, key: str) -> str | None:
        return self.session.execute(
            select(_ASSET.value).where(_ASSET.asset_uri == uri, _ASSET.key == key)
        ).scalar_one_or_none()

    def set_asset_state(self, uri: str, key: str, value_json: str, now: datetime) -> None:
        check_aware("asset state", "now", now)
        row = self.session.get(AssetStateRow, (uri, key))
        if row is not None:
            row.value, row.updated_at = value_json, now
            self.session.flush()
            return
        try:
            with self.session.begin_nested():  # another task may add the same key at once
                self.session.add(AssetStateRow(asset_uri=uri, key=key, value=value_json,
                                               updated_at=now))
        except IntegrityError:
            row = self.session.get(AssetStateRow, (uri, key), populate_existing=True)
            if row is None:  # pragma: no cover - added then deleted in between
                raise
            row.value, row.updated_at = value_json, now
            self.session.flush()

    def delete_asset_state(self, uri: str, key: str) -> None:
        self.session.execute(
            delete(AssetStateRow).where(_ASSET.asset_uri == uri, _ASSET.key == key))

    def clear_asset_state(self, uri: str) -> int:
        result = self.session.execute(delete(AssetStateRow).where(_ASSET.asset_uri == uri))
        return int(getattr(result, "rowcount", 0) or 0)

    def asset_state_keys(self, uri: str) -> list[str]:
        return list(self.session.scalars(
            select(_ASSET.key).where(_ASSET.asset_uri == uri).order_by(_ASSET.key)))
