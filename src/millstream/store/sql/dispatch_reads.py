"""What a dispatch reads, in one statement: the instances that hold slots and the first
window of scheduled instances, with the dispatch lock on PostgreSQL.

Taken one statement at a time these are three round trips on every handoff on
PostgreSQL, whose server shares the machine's cores with the scheduler, so each costs
far more than its work; on SQLite two statements, each with its own fixed cost. On
PostgreSQL the lock is taken first (a materialized CTE is evaluated once, before the
rest), and the window is read, and its rows locked with ``SKIP LOCKED``, only when the
lock was had: a scheduler that lost the lock locks no row another one might dispatch.
SQLite needs no lock: its write transactions already run one at a time.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Integer, Select, bindparam, func, literal, select, true, union_all
from sqlalchemy.orm import Session

from millstream.model.states import TaskState
from millstream.store.records import TaskInstanceRecord
from millstream.store.sql.common import execute, one_of, one_of_values
from millstream.store.sql.convert import TI_COLUMNS, TI_TABLE, row_to_ti
from millstream.store.sql.direct_statements import direct

DISPATCH_LOCK_ID = 0x6D696C6C
"""The advisory lock's first key: held while slots are counted and instances claimed."""

_TI = TI_TABLE.c
DISPATCH_ORDER = (_TI.priority_weight.desc(), _TI.dag_id, _TI.run_id, _TI.task_id,
                  _TI.map_index)
"""Highest priority first, then by key: the order instances are offered for slots."""

DISPATCH_LOCK = select(
    func.pg_try_advisory_xact_lock(DISPATCH_LOCK_ID, func.hashtext(func.current_schema()))
)
"""Keyed by schema too: schedulers of other schemas of the same database never contend."""

_ACTIVE, _WINDOW = 1, 2


def _view_statement() -> Select[Any]:
    lock = (select(DISPATCH_LOCK.selected_columns[0].label("got"))
            .cte("dispatch_lock").prefix_with("MATERIALIZED"))
    had_lock = select(lock.c.got).scalar_subquery().cast(Boolean)
    window = (select(literal(_WINDOW, Integer).label("part"), *TI_COLUMNS)
              .where(_TI.state == TaskState.SCHEDULED.value, had_lock)
              .order_by(*DISPATCH_ORDER)
              .limit(bindparam("limit"))
              .with_for_update(skip_locked=True)
              .cte("dispatch_window"))
    active = (select(literal(_ACTIVE, Integer).label("part"), *TI_COLUMNS)
              .where(one_of(_TI.state, "states", "postgresql"), had_lock))
    instances = union_all(active, select(window)).subquery("instances")
    return (select(lock.c.got, instances)
            .select_from(lock.outerjoin(instances, true()))
            .order_by(instances.c.part, instances.c.priority_weight.desc(),
                      instances.c.dag_id, instances.c.run_id, instances.c.task_id,
                      instances.c.map_index))


def _sqlite_view_statement() -> Select[Any]:
    window = (select(literal(_WINDOW, Integer).label("part"), *TI_COLUMNS)
              .where(_TI.state == TaskState.SCHEDULED.value)
              .order_by(*DISPATCH_ORDER)
              .limit(bindparam("limit"))
              .subquery("dispatch_window"))
    active = (select(literal(_ACTIVE, Integer).label("part"), *TI_COLUMNS)
              .where(one_of(_TI.state, "states", "sqlite")))
    instances = union_all(active, select(window)).subquery("instances")
    return select(instances).order_by(
        instances.c.part, instances.c.priority_weight.desc(), instances.c.dag_id,
        instances.c.run_id, instances.c.task_id, instances.c.map_index)


_VIEW = direct(_view_statement())
_SQLITE_VIEW = direct(_sqlite_view_statement())


def dispatch_view_sqlite(
    session: Session, active_states: list[str], limit: int
) -> tuple[list[TaskInstanceRecord], list[TaskInstanceRecord]]:
    """The instances in ``active_states`` and the first ``limit`` scheduled ones."""
    rows = execute(session, _SQLITE_VIEW, {
        "states": one_of_values(active_states, "sqlite"), "limit": limit})
    active: list[TaskInstanceRecord] = []
    window: list[TaskInstanceRecord] = []
    for row in rows:
        (active if row[0] == _ACTIVE else window).append(row_to_ti(row[1:]))
    return active, window


def dispatch_view_postgresql(
    session: Session, active_states: list[str], limit: int
) -> tuple[list[TaskInstanceRecord], list[TaskInstanceRecord]] | None:
    """The instances in ``active_states`` and the first ``limit`` scheduled ones, under
    the dispatch lock; None if another scheduler holds it (then nothing is locked)."""
    rows = execute(session, _VIEW, {
        "states": one_of_values(active_states, "postgresql"), "limit": limit})
    active: list[TaskInstanceRecord] = []
    window: list[TaskInstanceRecord] = []
    for row in rows:
        if not row[0]:
            return None
        if row[1] is not None:
            (active if row[1] == _ACTIVE else window).append(row_to_ti(row[2:]))
    return active, window


__all__ = ["DISPATCH_LOCK", "DISPATCH_ORDER", "dispatch_view_postgresql",
           "dispatch_view_sqlite"]
