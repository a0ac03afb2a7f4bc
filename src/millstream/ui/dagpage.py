"""What every page of one DAG shares: its record, structure, header facts and request parsing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from millstream.parsing.serialize import DagStructure
from millstream.scheduler.runs import last_scheduled_interval
from millstream.services.inputs import parse_date
from millstream.store.interfaces import Store
from millstream.store.records import DagRecord, DagRunRecord
from millstream.ui.catalog import CATALOG
from millstream.ui.errors import PageError


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DagHeader:
    """The DAG's record and latest structure, with the facts its pages show on top."""

    record: DagRecord
    structure: DagStructure
    next_run: tuple[datetime, datetime] | None
    owners: tuple[str, ...]
    import_error: str | None

    @property
    def dag_id(self) -> str:
        return self.record.dag_id


def load_header(store: Store, dag_id: str) -> DagHeader:
    """The header of a DAG page, or a 404 naming the DAG."""
    record = store.dags.get(dag_id)
    if record is None or record.latest_version is None:
        raise PageError(404, f"no DAG {dag_id!r}: is its file in the dags folder, and has "
                                 "the scheduler parsed it?")
    structure = CATALOG.structure(store, dag_id, record.latest_version)
    if structure is None:
        raise PageError(404, f"DAG {dag_id!r} has no stored structure yet")
    owners = tuple(sorted({str(t.raw.get("owner") or "") for t in structure.tasks} - {""}))
    error = None
    if record.fileloc:
        error = next((e.traceback for e in store.import_errors.list()
                      if e.filename == record.fileloc), None)
    last = last_scheduled_interval(store, dag_id)
    return DagHeader(record, structure, CATALOG.next_run(structure, last, utcnow()), owners,
                     error)


def load_structure(store: Store, dag_id: str, version: str | None) -> DagStructure:
    """The structure a run was created with (the latest if that version is gone)."""
    structure = CATALOG.structure(store, dag_id, version) if version else None
    if structure is None:
        structure = CATALOG.structure(store, dag_id)
    if structure is None:
        raise PageError(404, f"DAG {dag_id!r} has no stored structure yet")
    return structure


def require_run(store: Store, dag_id: str, run_id: str | None) -> DagRunRecord:
    if not run_id:
        raise PageError(400, "which run? add ?run_id=... to the address")
    run = store.runs.get(dag_id, run_id)
    if run is None:
        raise PageError(404, f"DAG {dag_id!r} has no run {run_id!r}")
    return run


def int_param(value: str | None, default: int, lowest: int | None = None,
              highest: int | None = None) -> int:
    """A whole number from the query string; garbage means the default, out of range is clamped."""
    try:
        number = int(value) if value not in (None, "") else default
    except ValueError:
        number = default
    if lowest is not None:
        number = max(number, lowest)
    if highest is not None:
        number = min(number, highest)
    return number


def bool_param(value: Any) -> bool:
    return str(value).lower() in {"1", "true", "on", "yes"}


def moment_param(value: str | None) -> datetime | None:
    """An ISO date-time from the query string (naive means UTC), or None; a bad one is an
    InvalidInputError, a 400 page. (A ``+`` in a query string arrives as a space.)"""
    if not value:
        return None
    return parse_date(value.replace(" ", "+"), "date-time")


__all__ = ["DagHeader", "bool_param", "int_param", "load_header", "load_structure",
           "moment_param", "require_run", "utcnow"]
