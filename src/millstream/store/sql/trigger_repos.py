"""Triggers and task reschedules over SQL: each repo works in a Session and never commits."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceKey, TaskInstanceRecord
from millstream.store.sql.common import rowcount
from millstream.store.sql.convert import TI_COLUMNS, TI_TABLE, check_aware, row_to_ti
from millstream.store.sql.models_triggers import TaskRescheduleRow, TriggerRow
from millstream.store.trigger_records import TaskRescheduleRecord, TriggerRecord

TRIGGER_TABLE = cast(Table, TriggerRow.__table__)
RESCHEDULE_TABLE = cast(Table, TaskRescheduleRow.__table__)
_T = TRIGGER_TABLE.c
_R = RESCHEDULE_TABLE.c
_TI = TI_TABLE.c
_TRIGGER_COLUMNS: tuple[Any, ...] = (
    _T.id, _T.classpath, _T.kwargs, _T.created_date, _T.triggerer_id, _T.heartbeat_at,
)
_DEFERRED = TaskState.DEFERRED.value


def _row_to_trigger(row: Row[Any]) -> TriggerRecord:
    trigger_id, classpath, kwargs, created, owner, heartbeat = tuple(row)
    return TriggerRecord(trigger_id, classpath, dict(kwargs or {}), created, owner, heartbeat)


class SqlTriggerRepo:
    """Triggers in the ``trigger`` table; deferred instances are read from ``task_instance``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, classpath: str, kwargs: dict[str, Any], now: datetime) -> int:
        check_aware("trigger", "now", now)
        result = self.session.execute(
            insert(TRIGGER_TABLE).returning(_T.id),
            {"classpath": classpath, "kwargs": kwargs, "created_date": now},
        )
        return int(result.scalar_one())

    def get(self, trigger_id: int) -> TriggerRecord | None:
        row = self.session.execute(
            select(*_TRIGGER_COLUMNS).where(_T.id == trigger_id)
        ).first()
        return _row_to_trigger(row) if row is not None else None

    def list(self) -> builtins.list[TriggerRecord]:
        rows = self.session.execute(select(*_TRIGGER_COLUMNS).order_by(_T.id))
        return [_row_to_trigger(row) for row in rows]

    def assign(self, triggerer_id: str, capacity: int, now: datetime,
               stale_before: datetime) -> builtins.list[TriggerRecord]:
        """Take free or abandoned triggers up to ``capacity``; on PostgreSQL the candidates
        are locked with ``SKIP LOCKED`` so two triggerers never take the same one, and the
        UPDATE repeats the condition so a trigger taken meanwhile is left alone."""
        check_aware("trigger", "now", now)
        mine = _T.triggerer_id == triggerer_id
        owned = self.session.execute(
            select(func.count()).select_from(TRIGGER_TABLE).where(mine)
        ).scalar_one()
        room = capacity - int(owned)
        if room > 0:
            takeable = or_(
                _T.triggerer_id.is_(None),
                and_(_T.triggerer_id != triggerer_id,
                     or_(_T.heartbeat_at.is_(None), _T.heartbeat_at < stale_before)),
            )
            query = select(_T.id).where(takeable).order_by(_T.id).limit(room)
            if self.session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(self.session.execute(query).scalars())
            if ids:
                self.session.execute(
                    update(TRIGGER_TABLE).where(_T.id.in_(ids), takeable)
                    .values(triggerer_id=triggerer_id, heartbeat_at=now)
                )
        rows = self.session.execute(select(*_TRIGGER_COLUMNS).where(mine).order_by(_T.id))
        return [_row_to_trigger(row) for row in rows]

    def heartbeat(self, triggerer_id: str, now: datetime) -> None:
        check_aware("trigger", "now", now)
        self.session.execute(
            update(TRIGGER_TABLE).where(_T.triggerer_id == triggerer_id).values(heartbeat_at=now)
        )

    def owners(self) -> builtins.list[str]:
        rows = self.session.execute(
            select(_T.triggerer_id).where(_T.triggerer_id.is_not(None)).distinct()
        )
        return sorted(str(owner) for owner in rows.scalars())

    def release(self, triggerer_id: str) -> int:
        return rowcount(self.session.execute(
            update(TRIGGER_TABLE).where(_T.triggerer_id == triggerer_id)
            .values(triggerer_id=None, heartbeat_at=None)
        ))

    def delete(self, trigger_id: int) -> bool:
        return rowcount(self.session.execute(delete(TRIGGER_TABLE).where(_T.id == trigger_id))) == 1

    def clean_unused(self) -> int:
        used = select(_TI.trigger_id).where(_TI.state == _DEFERRED, _TI.trigger_id.is_not(None))
        return rowcount(self.session.execute(delete(TRIGGER_TABLE).where(_T.id.not_in(used))))

    def waiting_on(self, trigger_id: int) -> builtins.list[TaskInstanceRecord]:
        rows = self.session.execute(
            select(*TI_COLUMNS).where(_TI.state == _DEFERRED, _TI.trigger_id == trigger_id)
            .order_by(_TI.dag_id, _TI.run_id, _TI.task_id, _TI.map_index)
        )
        return [row_to_ti(row) for row in rows]

    def timed_out(self, now: datetime) -> builtins.list[TaskInstanceRecord]:
        check_aware("trigger", "now", now)
        rows = self.session.execute(
            select(*TI_COLUMNS).where(_TI.state == _DEFERRED, _TI.trigger_timeout < now)
            .order_by(_TI.trigger_timeout)
        )
        return [row_to_ti(row) for row in rows]


class SqlTaskRescheduleRepo:
    """Reschedules in the ``task_reschedule`` table."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: TaskRescheduleRecord) -> None:
        owner = f"reschedule of task instance {record.key}"
        for name in ("start_date", "end_date", "reschedule_date"):
            check_aware(owner, name, getattr(record, name))
        key = record.key
        self.session.execute(insert(RESCHEDULE_TABLE), [{
            "dag_id": key.dag_id, "run_id": key.run_id, "task_id": key.task_id,
            "map_index": key.map_index, "try_number": record.try_number,
            "start_date": record.start_date, "end_date": record.end_date,
            "reschedule_date": record.reschedule_date,
        }])

    def for_try(self, key: TaskInstanceKey, try_number: int) -> builtins.list[
        TaskRescheduleRecord
    ]:
        rows = self.session.execute(
            select(_R.start_date, _R.end_date, _R.reschedule_date)
            .where(_R.dag_id == key.dag_id, _R.run_id == key.run_id, _R.task_id == key.task_id,
                   _R.map_index == key.map_index, _R.try_number == try_number)
            .order_by(_R.id)
        )
        return [TaskRescheduleRecord(key, try_number, start, end, when)
                for start, end, when in rows]
