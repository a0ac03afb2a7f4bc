"""Holding a DAG run's row while a transaction decides whether the run has ended."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from millstream.store.records import DagRunRecord
from millstream.store.sql.common import execute
from millstream.store.sql.convert import RUN_COLUMNS, RUN_TABLE, row_to_run
from millstream.store.sql.direct_statements import direct

_RUN = RUN_TABLE.c
RUN_BY_KEY = select(*RUN_COLUMNS).where(
    (_RUN.dag_id == bindparam("k_dag_id")) & (_RUN.run_id == bindparam("k_run_id"))
)
_RUN_LOCK = RUN_BY_KEY.with_for_update(skip_locked=True)
direct(RUN_BY_KEY)


class SqlRunLocking:
    """The ``lock`` of the SQL run repository."""

    session: Session

    def lock(self, dag_id: str, run_id: str) -> DagRunRecord | None:
        """The run as it is now, its row held until this transaction ends; None when
        another transaction holds it, or there is no such run.

        On PostgreSQL the row is locked with ``FOR UPDATE SKIP LOCKED`` (never waited
        for). SQLite has one writer at a time, so there the run is simply read.
        """
        postgres = self.session.get_bind().dialect.name == "postgresql"
        statement = _RUN_LOCK if postgres else RUN_BY_KEY
        row = execute(self.session, statement, {"k_dag_id": dag_id, "k_run_id": run_id}).first()
        return row_to_run(row) if row is not None else None
