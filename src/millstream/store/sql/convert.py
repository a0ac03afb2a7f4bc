"""Converting between the store's plain records and the values of SQL table rows.

This is the only module that knows how a record's fields map to columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import Row, Table

from millstream.model.states import DagRunState, TaskState
from millstream.store.records import (
    AuditRecord,
    DagRecord,
    DagRunRecord,
    ImportErrorRecord,
    TaskInstanceKey,
    TaskInstanceRecord,
    TaskTryRecord,
)
from millstream.store.sql.models import (
    AuditLogRow,
    DagRow,
    DagRunRow,
    ImportErrorRow,
    TaskInstanceRow,
    TaskTryRow,
)

RUN_TABLE = cast(Table, DagRunRow.__table__)
TI_TABLE = cast(Table, TaskInstanceRow.__table__)
TRY_TABLE = cast(Table, TaskTryRow.__table__)
DAG_TABLE = cast(Table, DagRow.__table__)
IMPORT_ERROR_TABLE = cast(Table, ImportErrorRow.__table__)
AUDIT_TABLE = cast(Table, AuditLogRow.__table__)

RUN_FIELDS = tuple(f.name for f in fields(DagRunRecord))
TI_FIELDS = tuple(f.name for f in fields(TaskInstanceRecord))

RUN_KEY_FIELDS = frozenset({"dag_id", "run_id"})
TI_KEY_FIELDS = frozenset({"dag_id", "run_id", "task_id", "map_index"})

RUN_COLUMNS = tuple(RUN_TABLE.c[name] for name in RUN_FIELDS)
"""The dag_run columns, in the order of the record's fields."""
TI_COLUMNS = tuple(TI_TABLE.c[name] for name in TI_FIELDS)
"""The task_instance columns, in the order of the record's fields."""
DAG_COLUMNS = tuple(DAG_TABLE.c[f.name] for f in fields(DagRecord))
IMPORT_ERROR_COLUMNS = tuple(IMPORT_ERROR_TABLE.c[f.name] for f in fields(ImportErrorRecord))
AUDIT_COLUMNS = tuple(AUDIT_TABLE.c[f.name] for f in fields(AuditRecord))
TRY_COLUMNS = tuple(
    TRY_TABLE.c[name]
    for name in ("dag_id", "run_id", "task_id", "map_index", "try_number", "state",
                 "start_date", "end_date", "error")
)


def _column_value(owner: str, name: str, value: Any) -> Any:
    """A field value as a column value: enums by value, naive datetimes refused."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(
            f"{owner}: field {name!r} is a naive datetime ({value.isoformat()}); "
            "the store keeps timezone-aware datetimes only"
        )
    return value


def run_values(run: DagRunRecord) -> dict[str, Any]:
    """The dag_run column values of a run record."""
    owner = f"run {run.run_id!r} of DAG {run.dag_id!r}"
    return {name: _column_value(owner, name, getattr(run, name)) for name in RUN_FIELDS}


def ti_values(ti: TaskInstanceRecord) -> dict[str, Any]:
    """The task_instance column values of a task instance record."""
    owner = f"task instance {ti.key}"
    return {name: _column_value(owner, name, getattr(ti, name)) for name in TI_FIELDS}


def try_values(record: TaskTryRecord) -> dict[str, Any]:
    """The task_try column values of a try record."""
    owner = f"try {record.try_number} of task instance {record.key}"
    key = record.key
    return {
        "dag_id": key.dag_id,
        "run_id": key.run_id,
        "task_id": key.task_id,
        "map_index": key.map_index,
        "try_number": record.try_number,
        "state": _column_value(owner, "state", record.state),
        "start_date": _column_value(owner, "start_date", record.start_date),
        "end_date": _column_value(owner, "end_date", record.end_date),
        "error": record.error,
    }


def audit_values(record: AuditRecord) -> dict[str, Any]:
    """The audit_log column values of an audit record."""
    owner = f"audit event {record.event!r}"
    values = {
        f.name: _column_value(owner, f.name, getattr(record, f.name)) for f in fields(record)
    }
    values["extra"] = dict(record.extra or {})
    return values


def check_aware(owner: str, name: str, value: datetime | None) -> datetime | None:
    """``value`` unchanged, or ValueError if it is a naive datetime."""
    _column_value(owner, name, value)
    return value


def update_values(
    owner: str, allowed: tuple[str, ...], key_fields: frozenset[str], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Column values for a state change's extra ``changes``, checked against the record's fields."""
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in allowed:
            raise AttributeError(f"{owner}: no field {name!r} to set")
        if name in key_fields:
            raise ValueError(f"{owner}: field {name!r} identifies the record and cannot change")
        values[name] = _column_value(owner, name, value)
    return values


def _values(row: Row[Any]) -> tuple[Any, ...]:
    """A row's values, in the order of the selected columns."""
    return cast(tuple[Any, ...], row)


_RUN_STATES = {state.value: state for state in DagRunState}
_TASK_STATES = {state.value: state for state in TaskState}


_RUN_STATE_AT = [f.name for f in fields(DagRunRecord)].index("state")
_RUN_CONF_AT = [f.name for f in fields(DagRunRecord)].index("conf")
_TI_STATE_AT = [f.name for f in fields(TaskInstanceRecord)].index("state")


def row_to_run(row: Row[Any]) -> DagRunRecord:
    """A run record from a row selected with :data:`RUN_COLUMNS` (the record's field order)."""
    values = list(_values(row))
    values[_RUN_STATE_AT] = _RUN_STATES[values[_RUN_STATE_AT]]
    if values[_RUN_CONF_AT] is None:
        values[_RUN_CONF_AT] = {}
    return DagRunRecord(*values)


def row_to_ti(row: Row[Any]) -> TaskInstanceRecord:
    """A task instance record from a row selected with :data:`TI_COLUMNS` (field order)."""
    values = list(_values(row))
    values[_TI_STATE_AT] = _TASK_STATES[values[_TI_STATE_AT]]
    return TaskInstanceRecord(*values)


def row_to_try(row: Row[Any]) -> TaskTryRecord:
    """A try record from a row selected with :data:`TRY_COLUMNS`."""
    dag_id, run_id, task_id, map_index, try_number, state, start_date, end_date, error = tuple(row)
    return TaskTryRecord(
        TaskInstanceKey(dag_id, run_id, task_id, map_index), try_number, _TASK_STATES[state],
        start_date, end_date, error,
    )


def row_to_dag(row: Row[Any]) -> DagRecord:
    """A DAG record from a row selected with :data:`DAG_COLUMNS`."""
    return DagRecord(*_values(row))


def row_to_import_error(row: Row[Any]) -> ImportErrorRecord:
    """An import error record from a row selected with :data:`IMPORT_ERROR_COLUMNS`."""
    return ImportErrorRecord(*_values(row))


def row_to_audit(row: Row[Any]) -> AuditRecord:
    """An audit record from a row selected with :data:`AUDIT_COLUMNS`."""
    record = AuditRecord(*_values(row))
    return record if record.extra is not None else replace(record, extra={})
