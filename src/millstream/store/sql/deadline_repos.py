"""Missed deadlines over SQL: the ``deadline_miss`` table and its repository."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Index, Integer, String, Table, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from millstream.store.deadline_records import DeadlineMissRecord
from millstream.store.sql.convert import check_aware
from millstream.store.sql.models import ID_LEN, Base, _run_fk
from millstream.store.sql.types import UtcDateTime


class DeadlineMissRow(Base):
    """One missed deadline of one run (see ``DeadlineMissRecord``)."""

    __tablename__ = "deadline_miss"
    __table_args__ = (
        _run_fk(),
        UniqueConstraint("dag_id", "run_id", "task_id", "kind", "deadline"),
        Index("ix_deadline_miss_detected_at", "detected_at"),
    )

    id: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    kind: Mapped[str] = mapped_column(String(20))
    deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime())


_TABLE = cast(Table, DeadlineMissRow.__table__)
_C = _TABLE.c


def _record(row: DeadlineMissRow) -> DeadlineMissRecord:
    return DeadlineMissRecord(row.dag_id, row.run_id, row.task_id, row.kind, row.deadline,
                              row.detected_at)


class SqlDeadlineMissRepo:
    """Misses in ``deadline_miss``; the unique key makes a second scheduler's add a no-op."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: DeadlineMissRecord) -> bool:
        check_aware("deadline miss", "deadline", record.deadline)
        check_aware("deadline miss", "detected_at", record.detected_at)
        existing = self.session.execute(
            select(_C.id).where(_C.dag_id == record.dag_id, _C.run_id == record.run_id,
                                _C.task_id == record.task_id, _C.kind == record.kind,
                                _C.deadline == record.deadline)).first()
        if existing is not None:
            return False
        try:
            with self.session.begin_nested():  # another scheduler may add it at once
                self.session.add(DeadlineMissRow(
                    dag_id=record.dag_id, run_id=record.run_id, task_id=record.task_id,
                    kind=record.kind, deadline=record.deadline,
                    detected_at=record.detected_at))
        except IntegrityError:
            return False
        return True

    def for_run(self, dag_id: str, run_id: str) -> list[DeadlineMissRecord]:
        rows = self.session.scalars(
            select(DeadlineMissRow)
            .where(DeadlineMissRow.dag_id == dag_id, DeadlineMissRow.run_id == run_id)
            .order_by(DeadlineMissRow.deadline, DeadlineMissRow.task_id)).all()
        return [_record(row) for row in rows]

    def latest(self, limit: int = 100, dag_id: str | None = None) -> list[DeadlineMissRecord]:
        query = select(DeadlineMissRow)
        if dag_id is not None:
            query = query.where(DeadlineMissRow.dag_id == dag_id)
        rows = self.session.scalars(
            query.order_by(DeadlineMissRow.detected_at.desc(), DeadlineMissRow.deadline.desc())
            .limit(limit)).all()
        return [_record(row) for row in rows]

    def count(self, dag_id: str | None = None) -> int:
        query = select(func.count()).select_from(_TABLE)
        if dag_id is not None:
            query = query.where(_C.dag_id == dag_id)
        return int(self.session.execute(query).scalar_one())
