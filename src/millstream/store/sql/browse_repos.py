"""Bounded read-only queries for the web UI's pages over SQL: latest runs, counts, one run's rows.

Each query is limited (latest N per DAG, one page of runs, one run's rows), so a page costs
the same with ten runs or a million.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from millstream.model.states import DagRunState
from millstream.store.records import (
    DagRunRecord,
    TaskInstanceRecord,
    TaskTryRecord,
)
from millstream.store.sql.convert import (
    DAG_TABLE,
    RUN_COLUMNS,
    RUN_TABLE,
    TI_COLUMNS,
    TI_TABLE,
    TRY_COLUMNS,
    TRY_TABLE,
    row_to_run,
    row_to_ti,
    row_to_try,
)
from millstream.store.sql.dag_repos import SERIALIZED_TABLE
from millstream.store.sql.models import DagRunCountRow

RUN_COUNT_TABLE = DagRunCountRow.__table__
_RUN = RUN_TABLE.c
_COUNT = RUN_COUNT_TABLE.c
_TI = TI_TABLE.c
_LATEST = (
    select(*RUN_COLUMNS)
    .where(_RUN.dag_id == bindparam("k_dag_id"))
    .order_by(_RUN.logical_date.desc())
    .limit(bindparam("k_limit"))
)
_LATEST_BEFORE = (
    select(*RUN_COLUMNS)
    .where(_RUN.dag_id == bindparam("k_dag_id"), _RUN.logical_date < bindparam("k_before"))
    .order_by(_RUN.logical_date.desc())
    .limit(bindparam("k_limit"))
)
# Runs are counted from dag_run_count, which the database keeps as runs change: one row
# per DAG and state, however many runs history holds.
_STATE_COUNTS = (
    select(_COUNT.dag_id, _COUNT.state, _COUNT.runs)
    .where(_COUNT.dag_id.in_(bindparam("dag_ids", expanding=True)), _COUNT.runs > 0)
)
_RUN_COUNT = select(func.coalesce(func.sum(_COUNT.runs), 0)).where(
    _COUNT.dag_id == bindparam("k_dag_id"))
_INSTANCES = (
    select(*TI_COLUMNS)
    .where(_TI.dag_id == bindparam("k_dag_id"),
           _TI.run_id.in_(bindparam("run_ids", expanding=True)))
    .order_by(_TI.run_id, _TI.task_id, _TI.map_index)
)
_TRIES = (
    select(*TRY_COLUMNS)
    .where(TRY_TABLE.c.dag_id == bindparam("k_dag_id"), TRY_TABLE.c.run_id == bindparam("k_run_id"))
    .order_by(TRY_TABLE.c.task_id, TRY_TABLE.c.map_index, TRY_TABLE.c.try_number, TRY_TABLE.c.id)
)
_STRUCTURES = (
    select(DAG_TABLE.c.dag_id, SERIALIZED_TABLE.c.version, SERIALIZED_TABLE.c.structure_json)
    .join(SERIALIZED_TABLE, (SERIALIZED_TABLE.c.dag_id == DAG_TABLE.c.dag_id)
          & (SERIALIZED_TABLE.c.version == DAG_TABLE.c.latest_version))
    .where(DAG_TABLE.c.dag_id.in_(bindparam("dag_ids", expanding=True)))
)


class SqlBrowseRepo:
    """The UI's page queries over the ``dag_run``, ``task_instance``, ``task_try``
    and ``serialized_dag`` tables."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def latest_runs(self, dag_id: str, limit: int,
                    before: datetime | None = None) -> list[DagRunRecord]:
        params: dict[str, Any] = {"k_dag_id": dag_id, "k_limit": max(limit, 0)}
        if before is None:
            return [row_to_run(row) for row in self.session.execute(_LATEST, params)]
        params["k_before"] = before
        return [row_to_run(row) for row in self.session.execute(_LATEST_BEFORE, params)]

    def latest_runs_per_dag(self, dag_ids: Collection[str],
                            limit: int) -> dict[str, list[DagRunRecord]]:
        # One seek of (dag_id, logical_date) per DAG, reading only the rows shown: a
        # ranking over every run of the DAGs would read their whole history.
        found: dict[str, list[DagRunRecord]] = {}
        if limit <= 0:
            return found
        for dag_id in sorted(set(dag_ids)):
            runs = self.latest_runs(dag_id, limit)
            if runs:
                found[dag_id] = runs
        return found

    def run_state_counts(self, dag_ids: Collection[str]) -> dict[str, dict[DagRunState, int]]:
        counts: dict[str, dict[DagRunState, int]] = {}
        if not dag_ids:
            return counts
        for dag_id, state, count in self.session.execute(_STATE_COUNTS,
                                                         {"dag_ids": list(dag_ids)}):
            counts.setdefault(dag_id, {})[DagRunState(state)] = int(count)
        return counts

    def run_count(self, dag_id: str) -> int:
        return int(self.session.execute(_RUN_COUNT, {"k_dag_id": dag_id}).scalar_one())

    def instances_for_runs(self, dag_id: str,
                           run_ids: Collection[str]) -> list[TaskInstanceRecord]:
        if not run_ids:
            return []
        rows = self.session.execute(_INSTANCES, {"k_dag_id": dag_id, "run_ids": list(run_ids)})
        return [row_to_ti(row) for row in rows]

    def tries_for_run(self, dag_id: str, run_id: str) -> list[TaskTryRecord]:
        rows = self.session.execute(_TRIES, {"k_dag_id": dag_id, "k_run_id": run_id})
        return [row_to_try(row) for row in rows]

    def latest_structures(self, dag_ids: Collection[str]) -> dict[str, tuple[str, str]]:
        if not dag_ids:
            return {}
        rows = self.session.execute(_STRUCTURES, {"dag_ids": list(dag_ids)})
        return {dag_id: (version, text) for dag_id, version, text in rows}
