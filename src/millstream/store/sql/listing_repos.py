"""Pages of the REST API's long lists over SQL: LIMIT/OFFSET and a COUNT in the database.

A page of runs costs the same with a hundred runs or a million: only the page's rows are
read and converted, and the whole list is counted (not read) for its length.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from millstream.model.states import DagRunState, TaskState
from millstream.store.listing_records import PageRecord, check_window, known_total
from millstream.store.records import (
    DagRecord,
    DagRunRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
)
from millstream.store.sql.browse_repos import RUN_COUNT_TABLE
from millstream.store.sql.convert import (
    DAG_COLUMNS,
    DAG_TABLE,
    RUN_COLUMNS,
    RUN_TABLE,
    TI_COLUMNS,
    TI_TABLE,
    row_to_dag,
    row_to_run,
    row_to_ti,
)
from millstream.store.sql.xcom_repos import XCOM_TABLE

T = TypeVar("T")
SQL_MAX_INT = 2**63 - 1

_RUN = RUN_TABLE.c
_TI = TI_TABLE.c
_DAG = DAG_TABLE.c
_XCOM = XCOM_TABLE.c
_COUNT = RUN_COUNT_TABLE.c


class SqlListingRepo:
    """The listing queries over the ``dag_run``, ``task_instance``, ``xcom`` and ``dag``
    tables."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def runs(self, dag_id: str | None, states: Collection[DagRunState] | None,
             newest_first: bool, limit: int, offset: int = 0) -> PageRecord[DagRunRecord]:
        conditions: list[Any] = []
        if dag_id is not None:
            conditions.append(_RUN.dag_id == dag_id)
        if states is not None:
            conditions.append(_RUN.state.in_(sorted({DagRunState(s).value for s in states})))
        order = [_RUN.logical_date, _RUN.dag_id, _RUN.run_id]
        query = select(*RUN_COLUMNS).where(*conditions).order_by(
            *(column.desc() if newest_first else column.asc() for column in order))
        # Counted from dag_run_count (kept by the database as runs change), by the same
        # DAG and states: one row per DAG and state, not one per run of history.
        counted = [_COUNT.dag_id == dag_id] if dag_id is not None else []
        if states is not None:
            counted.append(_COUNT.state.in_(sorted({DagRunState(s).value for s in states})))
        total = select(func.coalesce(func.sum(_COUNT.runs), 0)).where(*counted)
        return self._page(query, row_to_run, conditions, RUN_TABLE, limit, offset, total)

    def task_instances(self, dag_id: str, run_id: str, states: Collection[TaskState] | None,
                       limit: int, offset: int = 0) -> PageRecord[TaskInstanceRecord]:
        conditions: list[Any] = [_TI.dag_id == dag_id, _TI.run_id == run_id]
        if states is not None:
            conditions.append(_TI.state.in_(sorted({TaskState(s).value for s in states})))
        query = select(*TI_COLUMNS).where(*conditions).order_by(_TI.task_id, _TI.map_index)
        return self._page(query, row_to_ti, conditions, TI_TABLE, limit, offset)

    def xcom_entries(self, key: TaskInstanceKey, limit: int,
                     offset: int = 0) -> PageRecord[tuple[str, str]]:
        conditions = [_XCOM.dag_id == key.dag_id, _XCOM.run_id == key.run_id,
                      _XCOM.task_id == key.task_id, _XCOM.map_index == key.map_index]
        query = select(_XCOM.key, _XCOM.value).where(*conditions).order_by(_XCOM.key)
        return self._page(query, lambda row: (str(row[0]), str(row[1])), conditions,
                          XCOM_TABLE, limit, offset)

    def dags(self, active_only: bool, paused: bool | None, id_contains: str | None,
             limit: int | None, offset: int = 0) -> PageRecord[DagRecord]:
        conditions: list[Any] = []
        if active_only:
            conditions.append(_DAG.is_active.is_(True))
        if paused is not None:
            conditions.append(_DAG.is_paused.is_(paused))
        if id_contains:
            # lower() of the column, the needle lowered here: the same result on every
            # database (SQLite's lower() knows only ASCII, and DAG ids are ASCII).
            conditions.append(func.lower(_DAG.dag_id).contains(id_contains.lower(),
                                                               autoescape=True))
        query = select(*DAG_COLUMNS).where(*conditions).order_by(_DAG.dag_id)
        return self._page(query, row_to_dag, conditions, DAG_TABLE, limit, offset)

    def _page(self, query: Select[Any], convert: Callable[[Any], T], conditions: list[Any],
              table: Any, limit: int | None, offset: int,
              counted: Select[Any] | None = None) -> PageRecord[T]:
        """The page of ``query``; the list counted only when the page does not tell."""
        check_window(limit, offset)
        # The databases take 64-bit integers; no table holds that many rows anyway.
        if limit is not None:
            query = query.limit(min(limit, SQL_MAX_INT))
        if offset:
            query = query.offset(min(offset, SQL_MAX_INT))
        items = [convert(row) for row in self.session.execute(query)]
        total = known_total(len(items), limit, offset)
        if total is None:
            if counted is None:
                counted = select(func.count()).select_from(table).where(*conditions)
            total = int(self.session.execute(counted).scalar_one())
        return PageRecord(items, total)
