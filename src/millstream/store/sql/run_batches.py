"""Adding many new runs and their task instances in a few statements, over SQL.

The scheduler creates the runs of every DAG due at the same moment together: their
insert is one statement, their instances' another, whatever the number of runs. A run
whose DAG already has a run of the same id or logical date is passed over by the database
(``ON CONFLICT DO NOTHING``), so one such run (a manual run on the same date, or another
scheduler's of a moment ago) neither aborts the others nor, on PostgreSQL, the
transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from millstream.store.records import DagRunRecord, TaskInstanceRecord
from millstream.store.sql.active_rows import active_run
from millstream.store.sql.common import (
    conflicts_as_value_error,
    connection_of,
    execute,
    one_of,
    one_of_values,
)
from millstream.store.sql.convert import RUN_TABLE, TI_TABLE, run_values, ti_values

_RUN = RUN_TABLE.c
# Built once per dialect; the rows inserted are returned, the ones passed over are not.
_ADD_NEW = {
    "sqlite": sqlite.insert(RUN_TABLE).on_conflict_do_nothing()
    .returning(_RUN.dag_id, _RUN.run_id),
    "postgresql": postgresql.insert(RUN_TABLE).on_conflict_do_nothing()
    .returning(_RUN.dag_id, _RUN.run_id),
}
_TI_INSERT = insert(TI_TABLE)
_ACTIVE_COUNTS = {  # a seek of ix_dag_run_active, which holds active runs alone, per DAG
    dialect: select(_RUN.dag_id, func.count())
    # SQLite seeks the index per DAG for a list of values, but for the rows of json_each
    # reads every active run of every DAG instead: so the list is expanded there.
    .where(_RUN.dag_id.in_(bindparam("dag_ids", expanding=True)) if dialect != "postgresql"
           else one_of(_RUN.dag_id, "dag_ids", dialect),
           active_run(_RUN.state))
    .group_by(_RUN.dag_id)
    for dialect in ("sqlite", "postgresql", "")
}


def _first_of_each(runs: Iterable[DagRunRecord]) -> list[DagRunRecord]:
    """``runs`` without those that repeat an earlier one's key or logical date."""
    keys: set[tuple[str, str]] = set()
    dates: set[tuple[str, datetime]] = set()
    kept = []
    for run in runs:
        key, date = (run.dag_id, run.run_id), (run.dag_id, run.logical_date)
        if key in keys or date in dates:
            continue
        keys.add(key)
        dates.add(date)
        kept.append(run)
    return kept


class SqlRunBatches:
    """The ``add_new`` and ``active_counts`` of the SQL run repository."""

    session: Session

    def add_new(self, runs: Sequence[DagRunRecord]) -> list[DagRunRecord]:
        """Add the runs whose DAG has no run of the same id or logical date, in one
        statement; returns those added, in the given order (the others are passed over)."""
        batch = _first_of_each(runs)
        if not batch:
            return []
        dialect = connection_of(self.session).dialect.name
        statement = _ADD_NEW.get(dialect)
        if statement is None:
            raise NotImplementedError(f"no INSERT ... ON CONFLICT for database {dialect!r}")
        rows = execute(self.session, statement, [run_values(run) for run in batch]).all()
        added = {(dag_id, run_id) for dag_id, run_id in rows}
        return [run for run in batch if (run.dag_id, run.run_id) in added]

    def active_counts(self, dag_ids: Collection[str]) -> dict[str, int]:
        """How many queued or running runs each of these DAGs has (none: left out)."""
        if not dag_ids:
            return {}
        dialect = connection_of(self.session).dialect.name
        statement = _ACTIVE_COUNTS.get(dialect, _ACTIVE_COUNTS[""])
        ids = sorted(set(dag_ids))
        rows = execute(self.session, statement, {
            "dag_ids": one_of_values(ids, dialect) if dialect == "postgresql" else ids})
        return {dag_id: count for dag_id, count in rows}


class SqlInstanceBatches:
    """The ``add_to_new_runs`` of the SQL task instance repository."""

    session: Session

    def add_to_new_runs(self, instances: Iterable[TaskInstanceRecord]) -> None:
        """Add the first instances of runs this transaction has just added, in one statement.

        Unlike ``add_many`` nothing is looked up first: a new run has no instances yet.
        Should one be there after all, or the run not, ConflictError is raised.
        """
        values = [ti_values(ti) for ti in instances]
        if values:
            with conflicts_as_value_error(self.session, "cannot add task instances"):
                execute(self.session, _TI_INSERT, values)


__all__ = ["SqlInstanceBatches", "SqlRunBatches"]
