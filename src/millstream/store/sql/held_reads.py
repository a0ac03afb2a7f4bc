"""A run's instances and its row lock in one PostgreSQL round trip.

A tick that applies an outcome reads the instances of the outcome's run, then holds the
run's row (``FOR UPDATE SKIP LOCKED``) before deciding what the outcome leads to: two
round trips on every handoff. Here the lock is taken in a materialized CTE (evaluated
once, before the rest) and the instances are read beside it; a run another transaction
holds, or one that is gone, comes back as None, its instances read all the same.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Select, literal, select, true
from sqlalchemy.orm import Session

from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.store.sql.common import by_run_key, execute, one_of, one_of_values
from millstream.store.sql.convert import (
    RUN_COLUMNS,
    RUN_TABLE,
    TI_COLUMNS,
    TI_TABLE,
    row_to_run,
    row_to_ti,
)
from millstream.store.sql.direct_statements import direct

_TI = TI_TABLE.c


def _statement() -> Select[Any]:
    held = (select(*RUN_COLUMNS).where(by_run_key(RUN_TABLE))
            .with_for_update(skip_locked=True)
            .cte("held_run").prefix_with("MATERIALIZED"))
    instances = (select(*TI_COLUMNS)
                 .where(by_run_key(TI_TABLE), one_of(_TI.task_id, "task_ids", "postgresql"))
                 .subquery("instances"))
    one = select(literal(1).label("one")).subquery("one")
    return (select(*held.c, *instances.c)
            .select_from(one.outerjoin(held, true()).outerjoin(instances, true()))
            .order_by(instances.c.task_id, instances.c.map_index))


_HELD = direct(_statement())
_RUN_WIDTH = len(RUN_COLUMNS)


def for_run_holding_run_postgresql(
    session: Session, dag_id: str, run_id: str, task_ids: Collection[str]
) -> tuple[list[TaskInstanceRecord], DagRunRecord | None]:
    """The instances of ``task_ids`` in the run, and the run held by this transaction
    (None when another transaction holds it, or there is no such run)."""
    rows = execute(session, _HELD, {"k_dag_id": dag_id, "k_run_id": run_id,
                                    "task_ids": one_of_values(task_ids, "postgresql")}).all()
    run = row_to_run(rows[0][:_RUN_WIDTH]) if rows and rows[0][0] is not None else None
    instances = [row_to_ti(row[_RUN_WIDTH:]) for row in rows if row[_RUN_WIDTH] is not None]
    return instances, run


__all__ = ["for_run_holding_run_postgresql"]
