"""DAGs and their serialized versions, DAG file import errors, and the audit log, over SQL.

Like the other repositories, each works in a Session and never commits.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from millstream.exceptions import NotFoundError
from millstream.store.records import DUE_AT_ONCE, AuditRecord, DagRecord, ImportErrorRecord
from millstream.store.sql.common import execute, rowcount, upsert
from millstream.store.sql.convert import (
    AUDIT_COLUMNS,
    AUDIT_TABLE,
    DAG_COLUMNS,
    DAG_TABLE,
    IMPORT_ERROR_COLUMNS,
    IMPORT_ERROR_TABLE,
    audit_values,
    check_aware,
    row_to_audit,
    row_to_dag,
    row_to_import_error,
)
from millstream.store.sql.models import SerializedDagRow

SERIALIZED_TABLE = cast(Table, SerializedDagRow.__table__)

_DAG = DAG_TABLE.c
_DAG_GET = select(*DAG_COLUMNS).where(_DAG.dag_id == bindparam("k_dag_id"))
_STRUCTURE = select(SERIALIZED_TABLE.c.structure_json).where(
    SERIALIZED_TABLE.c.dag_id == bindparam("k_dag_id"),
    SERIALIZED_TABLE.c.version == bindparam("k_version"),
)

_DUE = (  # a range of ix_dag_next_due_at: DAGs not yet due are not read
    select(_DAG.dag_id)
    .where(_DAG.next_due_at <= bindparam("k_now"), _DAG.is_active.is_(True),
           _DAG.is_paused.is_(False))
    .order_by(_DAG.dag_id)
)
_NEXT_DUE_AFTER = (  # the first entry of ix_dag_next_due_at after the moment
    select(_DAG.next_due_at)
    .where(_DAG.next_due_at > bindparam("k_now"), _DAG.is_active.is_(True),
           _DAG.is_paused.is_(False))
    .order_by(_DAG.next_due_at)
    .limit(1)
)
_SET_NEXT_DUE = update(DAG_TABLE).where(_DAG.dag_id == bindparam("k_dag_id"))
_MARK_CHANGED_DUE = (
    update(DAG_TABLE)
    .where(_DAG.dag_id == bindparam("k_dag_id"),
           or_(_DAG.latest_version.is_(None), _DAG.latest_version != bindparam("k_version"),
               _DAG.is_active.is_(False)))
    .values(next_due_at=DUE_AT_ONCE)
)


class SqlDagRepo:
    """DAGs in ``dag``, every serialized version of each in ``serialized_dag``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert(
        self, dag_id: str, fileloc: str | None, structure_json: str, version: str,
        now: datetime, paused_on_create: bool = False,
    ) -> DagRecord:
        """Record a parse of a DAG; a new ``version`` keeps the old ones for existing runs.

        The paused flag is set only when the DAG is first seen; a version already
        stored keeps its first structure.
        """
        check_aware(f"DAG {dag_id!r}", "now", now)
        # A new version, or a DAG back in its file, may be due at once (a new schedule).
        self.session.execute(_MARK_CHANGED_DUE, {"k_dag_id": dag_id, "k_version": version})
        row = {"dag_id": dag_id, "fileloc": fileloc, "is_paused": paused_on_create,
               "is_active": True, "latest_version": version, "last_parsed": now,
               "has_import_errors": False, "next_due_at": DUE_AT_ONCE}
        self.session.execute(
            upsert(self.session, DAG_TABLE, ["dag_id"],
                   ["fileloc", "is_active", "latest_version", "last_parsed"]),
            [row],
        )
        self.session.execute(
            upsert(self.session, SERIALIZED_TABLE, ["dag_id", "version"], []),
            [{"dag_id": dag_id, "version": version, "structure_json": structure_json,
              "created_at": now}],
        )
        record = self.get(dag_id)
        assert record is not None
        return record

    def get(self, dag_id: str) -> DagRecord | None:
        found = self.session.execute(_DAG_GET, {"k_dag_id": dag_id}).first()
        return row_to_dag(found) if found is not None else None

    def list(self, active_only: bool = True) -> list[DagRecord]:
        query = select(*DAG_COLUMNS).order_by(_DAG.dag_id)
        if active_only:
            query = query.where(_DAG.is_active.is_(True))
        return [row_to_dag(row) for row in self.session.execute(query)]

    def set_paused(self, dag_id: str, paused: bool) -> None:
        # A paused DAG is never due; unpaused, it is looked at on the next round.
        result = self.session.execute(
            update(DAG_TABLE).where(_DAG.dag_id == dag_id)
            .values(is_paused=paused, next_due_at=None if paused else DUE_AT_ONCE)
        )
        if rowcount(result) != 1:
            raise NotFoundError(f"no DAG {dag_id!r}")

    def due(self, now: datetime) -> builtins.list[str]:
        check_aware("due DAGs", "now", now)
        return list(self.session.execute(_DUE, {"k_now": now}).scalars())

    def next_due_after(self, now: datetime) -> datetime | None:
        check_aware("due DAGs", "now", now)
        moment: datetime | None = execute(self.session, _NEXT_DUE_AFTER, {"k_now": now}).scalar()
        return moment

    def set_next_due(self, dag_id: str, moment: datetime | None) -> None:
        if moment is not None:
            check_aware(f"DAG {dag_id!r}", "next due moment", moment)
        self.session.execute(_SET_NEXT_DUE, {"k_dag_id": dag_id, "next_due_at": moment})

    def set_next_due_many(self, moments: Mapping[str, datetime | None]) -> None:
        """``set_next_due`` for many DAGs, in one statement."""
        for dag_id, moment in moments.items():
            if moment is not None:
                check_aware(f"DAG {dag_id!r}", "next due moment", moment)
        params = [{"k_dag_id": dag_id, "next_due_at": moment}
                  for dag_id, moment in moments.items()]
        if params:
            execute(self.session, _SET_NEXT_DUE, params)

    def structure(self, dag_id: str, version: str | None = None) -> str | None:
        """The serialized structure (JSON) of a version, by default the latest."""
        if version is None:
            version = self.session.execute(
                select(_DAG.latest_version).where(_DAG.dag_id == dag_id)
            ).scalar()
            if version is None:
                return None
        text: str | None = self.session.execute(
            _STRUCTURE, {"k_dag_id": dag_id, "k_version": version}
        ).scalar()
        return text

    def deactivate_missing(
        self, present: Iterable[str], filelocs: Iterable[str]
    ) -> builtins.list[str]:
        """Mark DAGs from the given files that are no longer in ``present`` as inactive."""
        keep, files = set(present), list(set(filelocs))
        if not files:
            return []
        candidates = self.session.execute(
            select(_DAG.dag_id)
            .where(_DAG.is_active.is_(True), _DAG.fileloc.in_(files))
            .order_by(_DAG.dag_id)
        ).scalars().all()
        gone = [dag_id for dag_id in candidates if dag_id not in keep]
        if gone:
            self.session.execute(
                update(DAG_TABLE).where(_DAG.dag_id.in_(gone))
                .values(is_active=False, next_due_at=None)
            )
        return gone


class SqlImportErrorRepo:
    """The current import error of each DAG file, in ``import_error``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def set(self, filename: str, traceback: str | None, now: datetime) -> None:
        """Store the file's error, or clear it when ``traceback`` is None."""
        table = IMPORT_ERROR_TABLE
        if traceback is None:
            self.session.execute(delete(table).where(table.c.filename == filename))
            return
        check_aware(f"import error of {filename!r}", "now", now)
        self.session.execute(
            upsert(self.session, table, ["filename"], ["traceback", "timestamp"]),
            [{"filename": filename, "traceback": traceback, "timestamp": now}],
        )

    def list(self) -> list[ImportErrorRecord]:
        query = select(*IMPORT_ERROR_COLUMNS).order_by(IMPORT_ERROR_TABLE.c.filename)
        return [row_to_import_error(row) for row in self.session.execute(query)]


class SqlAuditRepo:
    """User actions in ``audit_log``, newest first when listed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: AuditRecord) -> None:
        self.session.execute(insert(AUDIT_TABLE), [audit_values(record)])

    def list(self, dag_id: str | None = None, limit: int = 100) -> list[AuditRecord]:
        query: Any = select(*AUDIT_COLUMNS).order_by(AUDIT_TABLE.c.id.desc()).limit(limit)
        if dag_id is not None:
            query = query.where(AUDIT_TABLE.c.dag_id == dag_id)
        return [row_to_audit(row) for row in self.session.execute(query)]
