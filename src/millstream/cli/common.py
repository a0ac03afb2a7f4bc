"""What the store-backed command groups share: opening the store, parsing input, one-line errors.

Every command that reads or changes the metadata database opens it with
:func:`open_store` inside :func:`guarded`, so bad settings, unknown ids and bad input end
as one red ``Error: ...`` line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from millstream.config import Settings
    from millstream.parsing.serialize import DagStructure
    from millstream.store.actions import NewRun
    from millstream.store.interfaces import Store
    from millstream.store.records import DagRecord, DagRunRecord
    from millstream.store.sql import SqlStore

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

WIDE_OUTPUT = 160
"""Columns given to tables when output is captured or piped, so each row stays on one line."""

STATE_STYLES = {
    "success": "green",
    "failed": "bold red",
    "upstream_failed": "dark_orange",
    "up_for_retry": "yellow",
    "skipped": "magenta",
    "removed": "dim",
    "running": "cyan",
    "queued": "blue",
    "scheduled": "blue",
}


def fail(message: str) -> NoReturn:
    """One red line on stderr and exit code 2: bad input is not a crash, so no traceback."""
    line = " ".join(message.split())
    Console(stderr=True).print(Text(f"Error: {line}", style="red"), soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Turn the errors a user can cause (settings, ids, input, database) into :func:`fail`."""
    from millstream.exceptions import MillstreamError
    from millstream.store.sql.engine import DatabaseError, describe_database_error
    from millstream.store.sql.migrate import MigrationError

    try:
        yield
    except KeyError as exc:
        fail(str(exc.args[0]) if exc.args else "not found")
    except (MillstreamError, ValueError, MigrationError) as exc:
        fail(str(exc))
    except DatabaseError as exc:
        fail(describe_database_error(exc))


def console() -> Console:
    """Standard output; wide when captured, so tables keep one row per line."""
    out = Console()
    if not out.is_terminal:
        out.width = max(out.width, WIDE_OUTPUT)
    return out


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def cells(*values: str | Text) -> list[Text]:
    """Table cells shown as they are: ids and paths may hold ``[...]``, which is not markup."""
    return [value if isinstance(value, Text) else Text(value) for value in values]


def utcnow() -> datetime:
    return datetime.now(UTC)


def who() -> str:
    """The user recorded in audit records: this process's operating-system user."""
    from millstream.store.actions import current_user

    return current_user()


# -- settings and the store ----------------------------------------------------------------------
def load_settings() -> Settings:
    """The effective settings (a SettingsError is reported by :func:`guarded`)."""
    from millstream.config import load_settings as load

    return load()


@contextlib.contextmanager
def open_store(settings: Settings | None = None) -> Iterator[SqlStore]:
    """The metadata store from the settings; a database never migrated is migrated first.

    A database migrated by an older version is not upgraded behind the user's back: that
    is an error pointing at ``millstream db migrate``.
    """
    from millstream.store.sql import SqlStore, make_engine
    from millstream.store.sql.engine import ensure_sqlite_folder
    from millstream.store.sql.migrate import check, has_schema, migrate

    settings = settings or load_settings()
    url = settings.database.url
    ensure_sqlite_folder(url)
    engine = make_engine(url, **settings.database.engine_kwargs())
    try:
        if not has_schema(engine):
            migrate(engine)
        else:
            pending = check(engine)
            if pending:
                raise ValueError(
                    f"the database needs migrations {', '.join(pending)}: run "
                    "`millstream db migrate`"
                )
        store = SqlStore(engine)
        try:
            yield store
        finally:
            store.close()
    finally:
        engine.dispose()


def load_dag(store: Store, dag_id: str,
             version: str | None = None) -> tuple[DagRecord, DagStructure]:
    """The DAG's record and its stored structure (the latest, or ``version``)."""
    from millstream.parsing.serialize import DagStructure
    from millstream.store.actions import require_dag

    record = require_dag(store, dag_id)
    text = store.dags.structure(dag_id, version)
    if text is None:
        which = f"version {version}" if version else "structure"
        raise KeyError(f"DAG {dag_id!r} has no stored {which} yet")
    return record, DagStructure.from_json_text(text)


def find_run(store: Store, dag_id: str, run_id_or_date: str) -> DagRunRecord:
    """A run by its id, or else by its logical date (ISO date or date-time)."""
    from millstream.store.actions import require_dag

    require_dag(store, dag_id)
    run = store.runs.get(dag_id, run_id_or_date)
    if run is not None:
        return run
    try:
        moment = parse_date(run_id_or_date, "run")
    except ValueError:
        raise KeyError(f"DAG {dag_id!r} has no run {run_id_or_date!r}") from None
    run = store.runs.find(dag_id, moment)
    if run is None:
        raise KeyError(
            f"DAG {dag_id!r} has no run {run_id_or_date!r} (neither a run id nor the logical "
            f"date of a run)"
        )
    return run


# -- input ---------------------------------------------------------------------------------------
def parse_date(value: str, what: str = "date") -> datetime:
    """An ISO date or date-time as aware UTC (naive means UTC), or a ValueError naming it."""
    from millstream.model.intervals import ensure_utc

    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"bad {what} {value!r}: use ISO format, e.g. 2026-01-01 or 2026-01-01T06:00:00+00:00"
        ) from None
    return ensure_utc(moment)


def parse_conf(conf: str | None) -> dict[str, Any]:
    """``--conf``: a JSON object, or a ValueError saying what is wrong with it."""
    if conf is None:
        return {}
    try:
        value = json.loads(conf)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--conf is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(
            f"--conf must be a JSON object like '{{\"key\": 1}}', got {type(value).__name__}"
        )
    return value


def plan_run(structure: DagStructure, logical_date: datetime, now: datetime,
             run_type: str = "manual", conf: dict[str, Any] | None = None,
             run_id: str | None = None) -> NewRun:
    """A queued run of the stored structure and its task instances, not yet stored.

    The conf is checked against the DAG's params first (a ParamValidationError says which
    param is wrong); the data interval comes from the DAG's schedule.
    """
    from millstream.model.intervals import ensure_utc
    from millstream.scheduler import runs
    from millstream.store.actions import NewRun

    logical_date = ensure_utc(logical_date)
    interval = structure.timetable.data_interval_for(logical_date)
    run, instances = runs.plan_run(structure, logical_date, interval, now,  # type: ignore[arg-type]
                                   run_type, dict(conf or {}), run_id)
    return NewRun(run, tuple(instances))


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


def moment_text(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")
