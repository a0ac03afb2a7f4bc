"""What the store-backed command groups share: opening the store, parsing input, one-line errors.

Every command that reads or changes the metadata database opens it with
:func:`open_store` inside :func:`guarded`: the command is one transaction, and bad
settings and the domain's errors (unknown ids, conflicts, bad input) end as one red
``Error: ...`` line on stderr with exit code 2. Any other exception is a bug and shows
its traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from millstream.config import Settings
    from millstream.parsing.serialize import DagStructure
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


def print_error(message: str) -> None:
    """``Error: MESSAGE`` on stderr, in red, on one line."""
    line = " ".join(message.split())
    Console(stderr=True).print(Text(f"Error: {line}", style="red"), soft_wrap=True)


def fail(message: str) -> NoReturn:
    """One red line on stderr and exit code 2: bad input is not a crash, so no traceback."""
    print_error(message)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Turn the errors a user can cause (settings, ids, input, database) into :func:`fail`.

    ``MillstreamError`` covers the domain's errors (``NotFoundError``, ``ConflictError``,
    ``InvalidInputError``) and bad settings; a ``KeyError``, a ``ValueError`` or a
    ``StoreUsageError`` is a bug and keeps its traceback.
    """
    from millstream.exceptions import MillstreamError, StoreUsageError
    from millstream.store.sql.engine import DatabaseError, describe_database_error
    from millstream.store.sql.migrate import MigrationError

    try:
        yield
    except StoreUsageError:
        raise
    except (MillstreamError, MigrationError) as exc:
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
    from millstream.store.audit import current_user

    return current_user()


def command_name() -> str:
    """How to run millstream again from this shell: ``millstream`` when that is on the PATH
    (or the program was not started by its script), else the path it was started by, such
    as ``.venv/bin/millstream``."""
    started_by = sys.argv[0] if sys.argv else ""
    if os.path.basename(started_by) != "millstream":
        return "millstream"
    found = shutil.which("millstream")
    if found and os.path.realpath(found) == os.path.realpath(started_by):
        return "millstream"
    relative = os.path.relpath(started_by)
    return relative if not relative.startswith("..") else os.path.abspath(started_by)


# -- settings and the store ----------------------------------------------------------------------
def load_settings() -> Settings:
    """The effective settings (a SettingsError is reported by :func:`guarded`)."""
    from millstream.config import load_settings as load
    from millstream.model.limits import use_limits

    settings = load()
    use_limits(settings.limits.limits())
    return settings


def _say_database_is_new(settings: Settings) -> None:
    """A command that finds no database makes an empty one; say so, since the usual cause
    is a shell whose MILLSTREAM_HOME differs from the one the scheduler runs with."""
    from millstream.config import mask_url

    Console(stderr=True).print(Text(
        f"note: there was no millstream database at {mask_url(settings.database.url)}; an "
        f"empty one was created. If you expected your DAGs and runs, set MILLSTREAM_HOME "
        f"(here {settings.core.home}) as in the shell that runs the scheduler.",
        style="yellow"), soft_wrap=True)


@contextlib.contextmanager
def open_store(settings: Settings | None = None, *,
               transaction: bool = True) -> Iterator[SqlStore]:
    """The metadata store from the settings; a database never migrated is migrated first.

    The block is the command's one transaction: committed when it ends, rolled back if it
    raises. A command that waits or runs a task (polling, ``tasks run``) passes
    ``transaction=False`` and opens short ``store.transaction()`` blocks itself, so it
    holds no transaction while it waits.

    A database migrated by an older version is not upgraded behind the user's back: that
    is an error pointing at ``millstream db migrate``.
    """
    from millstream.store.sql import SqlStore, make_engine
    from millstream.store.sql.engine import ensure_sqlite_file
    from millstream.store.sql.migrate import MigrationError, check, has_schema, migrate

    settings = settings or load_settings()
    url = settings.database.url
    ensure_sqlite_file(url)
    engine = make_engine(url, **settings.database.engine_kwargs())
    try:
        if not has_schema(engine):
            migrate(engine)
            _say_database_is_new(settings)
        else:
            pending = check(engine)
            if pending:
                raise MigrationError(
                    f"the database needs migrations {', '.join(pending)}: run "
                    "`millstream db migrate`"
                )
        store = SqlStore(engine)
        try:
            if transaction:
                with store.transaction():
                    yield store
            else:
                yield store
        finally:
            store.close()
    finally:
        engine.dispose()


def load_dag(store: Store, dag_id: str,
             version: str | None = None) -> tuple[DagRecord, DagStructure]:
    """The DAG's record and its stored structure (the latest, or ``version``)."""
    from millstream.services.common import require_dag, require_structure

    with store.transaction():
        return require_dag(store, dag_id), require_structure(store, dag_id, version)


def find_run(store: Store, dag_id: str, run_id_or_date: str) -> DagRunRecord:
    """A run by its id, or else by its logical date (ISO date or date-time)."""
    from millstream.exceptions import InvalidInputError, NotFoundError
    from millstream.services.common import require_dag
    from millstream.services.inputs import parse_date

    with store.transaction():
        require_dag(store, dag_id)
        run = store.runs.get(dag_id, run_id_or_date)
        if run is not None:
            return run
        try:
            moment = parse_date(run_id_or_date, "run")
        except InvalidInputError:
            moment = None
        run = None if moment is None else store.runs.find(dag_id, moment)
    if run is None:
        raise NotFoundError(
            f"DAG {dag_id!r} has no run {run_id_or_date!r} (neither a run id nor the logical "
            f"date of a run)"
        )
    return run


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


def moment_text(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")
