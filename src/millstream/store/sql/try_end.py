"""A try's end on PostgreSQL in one statement: the instance's compare-and-set and the
try's history row, written together (a data-modifying CTE), one round trip fewer on
every try's end. The history row is the instance as the update left it."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from millstream.store.sql.common import by_ti_key, checked_state
from millstream.store.sql.convert import TI_TABLE, TRY_TABLE
from millstream.store.sql.direct_statements import direct

TRY_FIELDS = ("dag_id", "run_id", "task_id", "map_index", "try_number", "state",
              "start_date", "end_date", "error")
"""The columns of a history row, each taken from the same column of the instance."""


@functools.cache
def end_try_statement(columns: frozenset[str]) -> Any:
    """``UPDATE task_instance SET <columns> ... RETURNING`` feeding ``INSERT INTO
    task_try``; each column's value is the parameter ``v_<column>``, the key and the
    expected state those of :func:`~millstream.store.sql.common.by_ti_key` and
    ``k_state``. It returns one row per instance changed (none or one): the driver's
    row count of such a statement is not to be relied on."""
    table = TI_TABLE
    changed = (
        update(table)
        .where(by_ti_key(table), checked_state(table.c.state, bindparam("k_state")))
        .values({name: bindparam(f"v_{name}", type_=table.c[name].type)
                 for name in sorted(columns)})
        .returning(*(table.c[name] for name in TRY_FIELDS))
        .cte("ended")
    )
    return direct(insert(TRY_TABLE).from_select(
        list(TRY_FIELDS), select(*(changed.c[name] for name in TRY_FIELDS))
    ).returning(TRY_TABLE.c.id))


__all__ = ["TRY_FIELDS", "end_try_statement"]
