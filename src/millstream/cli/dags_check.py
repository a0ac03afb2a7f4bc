"""``millstream dags check [FOLDER]``: a DAG folder checked for CI/CD, as the scheduler loads it."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console

    from millstream.config import Settings
    from millstream.services.dag_check import CheckReport, Installation
    from millstream.store.sql import SqlStore

EXIT_PROBLEMS = 1


def check_command(
    folder: Annotated[Path | None, typer.Argument(
        help="The DAG folder (or one file); default: the core.dags_folder setting.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    no_database: Annotated[bool, typer.Option(
        "--no-database",
        help="Do not read the metadata database: pools are not checked, and connections "
             "must come from the environment or the secrets file.")] = False,
) -> None:
    """Load a DAG folder as the scheduler would and report what would keep a DAG from running.

    Exits 1 when a file fails to import (a cycle included), a task names a pool that
    does not exist, or a task names literally a connection id that is not defined;
    0 when every DAG is fine. Meant for CI/CD pipelines; --json for machines.
    """
    from millstream.cli.common import console, fail, guarded
    from millstream.config import load_settings
    from millstream.secrets.settings import use_settings
    from millstream.services.dag_check import check_dag_folder

    with guarded():
        settings = load_settings()
    use_settings(settings)
    root = Path(folder if folder is not None else settings.core.dags_folder).expanduser()
    if not root.exists():
        fail(f"no such DAG folder or file: {root}")
    with guarded(), _installation(settings, no_database) as installation:
        report = check_dag_folder(root, installation,
                                  timeout_s=settings.scheduler.file_parse_timeout_s,
                                  memory_mb=settings.scheduler.file_parse_memory_mb)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        _print(report, console())
    if not report.ok:
        raise typer.Exit(EXIT_PROBLEMS)


@contextlib.contextmanager
def _installation(settings: Settings, no_database: bool) -> Iterator[Installation]:
    """Pools and connections as the settings' installation has them; the database is
    only read (one that does not exist yet holds no pools and no connections)."""
    from millstream.secrets.backends import configured_secrets_file, conn_env_var_name
    from millstream.services.dag_check import Installation

    secrets_file = configured_secrets_file()

    def outside_database(conn_id: str) -> bool:
        if conn_env_var_name(conn_id) in os.environ:
            return True
        return secrets_file is not None and secrets_file.connection(conn_id) is not None

    if no_database:
        yield Installation(pool_exists=lambda _name: True, connection_exists=outside_database)
        return
    with _read_only_store(settings) as store:
        if store is None:
            yield Installation(pool_exists=lambda _name: False,
                               connection_exists=outside_database)
            return

        def pool_exists(name: str) -> bool:
            with store.transaction():
                return store.pools.slots(name) is not None

        def connection_exists(conn_id: str) -> bool:
            if outside_database(conn_id):
                return True
            with store.transaction():
                return store.connections.get(conn_id) is not None

        yield Installation(pool_exists, connection_exists)


@contextlib.contextmanager
def _read_only_store(settings: Settings) -> Iterator[SqlStore | None]:
    from millstream.store.sql import SqlStore, make_engine
    from millstream.store.sql.engine import sqlite_file
    from millstream.store.sql.migrate import has_schema

    url = settings.database.url
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        yield None
        return
    engine = make_engine(url, **settings.database.engine_kwargs())
    try:
        if not has_schema(engine):
            yield None
            return
        store = SqlStore(engine)
        try:
            yield store
        finally:
            store.close()
    finally:
        engine.dispose()


KIND_LABELS = {"import_error": "import error", "cycle": "cycle", "unknown_pool": "unknown pool",
               "missing_connection": "missing connection"}


def _print(report: CheckReport, out: Console) -> None:
    table = Table(title=f"DAG check of {report.folder}", title_justify="left")
    for name in ("file", "DAG", "task", "problem", "detail"):
        table.add_column(name, overflow="fold")
    root = Path(report.folder)
    for problem in report.problems:
        shown = Path(problem.file)
        with contextlib.suppress(ValueError):
            shown = shown.relative_to(root if root.is_dir() else root.parent)
        table.add_row(Text(str(shown)), Text(problem.dag_id or "-"), Text(problem.task_id or "-"),
                      Text(KIND_LABELS[problem.kind], style="red"), Text(problem.detail))
    if report.problems:
        out.print(table)
    files = len(report.files)
    summary = (f"{files} file(s), {report.dag_count} DAG(s): "
               + ("no problems" if report.ok else f"{len(report.problems)} problem(s)"))
    out.print(Text(summary, style="green" if report.ok else "red"))
