"""The overview's queries over SQL: one state, a window on the end date, newest first.

``ix_dag_run_state_end`` and ``ix_task_instance_state_end`` (migration 0008) make each a
range scan of the rows in the window, so the page costs the same with a year of history.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, String, bindparam, func, select, type_coerce
from sqlalchemy.orm import Session

from millstream.model.states import DagRunState, TaskState
from millstream.store.overview import GridInstance
from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.store.sql.convert import (
    RUN_COLUMNS,
    RUN_TABLE,
    TI_COLUMNS,
    TI_TABLE,
    row_to_run,
    row_to_ti,
)

_RUN = RUN_TABLE.c
_TI = TI_TABLE.c
_GRID = (
    # the dates as stored: SQLite's text is parsed below, much quicker than row by row
    # through the UtcDateTime type (PostgreSQL gives datetimes either way)
    select(_TI.run_id, _TI.task_id, _TI.map_index, _TI.state, _TI.try_number,
           type_coerce(_TI.start_date, String()), type_coerce(_TI.end_date, String()))
    .where(_TI.dag_id == bindparam("k_dag_id"),
           _TI.run_id.in_(bindparam("run_ids", expanding=True)))
)
_STATES = {state.value: state for state in TaskState}


class SqlOverviewRepo:
    """Runs and task instances of every DAG in one state, from the (state, end) indexes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def runs(self, state: DagRunState, ended_since: datetime | None,
             limit: int) -> tuple[list[DagRunRecord], int]:
        where: list[Any] = [_RUN.state == state.value]
        if ended_since is not None:
            where.append(_RUN.end_date >= ended_since)
        rows = select(*RUN_COLUMNS).where(*where).order_by(
            _RUN.end_date.desc(), _RUN.logical_date.desc()).limit(max(limit, 0))
        found = [row_to_run(row) for row in self.session.execute(rows)]
        return found, self._count(select(func.count()).select_from(RUN_TABLE).where(*where))

    def task_instances(self, state: TaskState, ended_since: datetime | None,
                       limit: int) -> tuple[list[TaskInstanceRecord], int]:
        where: list[Any] = [_TI.state == state.value]
        if ended_since is not None:
            where.append(_TI.end_date >= ended_since)
        rows = select(*TI_COLUMNS).where(*where).order_by(
            _TI.end_date.desc(), _TI.start_date.desc()).limit(max(limit, 0))
        found = [row_to_ti(row) for row in self.session.execute(rows)]
        return found, self._count(select(func.count()).select_from(TI_TABLE).where(*where))

    def daily_run_states(self, dag_id: str, since: datetime
                         ) -> list[tuple[date, DagRunState, int]]:
        column: Any = _RUN.logical_date
        if self.session.get_bind().dialect.name == "postgresql":
            column = func.timezone("UTC", column)  # the day in UTC, whatever the session's zone
        day = func.date(column)
        rows = self.session.execute(
            select(day, _RUN.state, func.count())
            .where(_RUN.dag_id == dag_id, _RUN.logical_date >= since)
            .group_by(day, _RUN.state))
        found = [(_as_date(value), DagRunState(state), int(n)) for value, state, n in rows]
        return sorted(found, key=lambda item: (item[0], item[1].value))

    def grid_instances(self, dag_id: str, run_ids: Collection[str]) -> list[GridInstance]:
        if not run_ids:
            return []
        # fetched at once: the driver's fetchall, not a fetch per row
        rows = self.session.execute(_GRID, {"k_dag_id": dag_id,
                                            "run_ids": list(run_ids)}).all()
        moments: dict[object, datetime] = {}

        def moment(value: object) -> datetime | None:
            if value is None:
                return None
            found = moments.get(value)
            if found is None:
                found = moments[value] = _utc(value)
            return found

        return [GridInstance(task_id, run_id, map_index, _STATES[state], tries, moment(start),
                             moment(end))
                for run_id, task_id, map_index, state, tries, start, end in rows]

    def pool_slots_taken(self) -> dict[tuple[str, TaskState], int]:
        rows = self.session.execute(
            select(_TI.pool, _TI.state, func.sum(_TI.pool_slots))
            .where(_TI.state.in_([TaskState.RUNNING.value, TaskState.QUEUED.value]))
            .group_by(_TI.pool, _TI.state))
        return {(pool, TaskState(state)): int(slots or 0) for pool, state, slots in rows}

    def _count(self, query: Select[Any]) -> int:
        return int(self.session.execute(query).scalar_one())


def _utc(value: object) -> datetime:
    """A stored moment as an aware UTC datetime: SQLite keeps UTC text without an offset."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def _as_date(value: Any) -> date:
    """SQLite's ``date()`` gives text, PostgreSQL's a date."""
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


__all__ = ["SqlOverviewRepo"]
