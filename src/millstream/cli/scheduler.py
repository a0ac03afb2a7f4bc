"""``millstream scheduler`` and ``millstream standalone``: the long-running processes."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from millstream.cli.common import command_name
from millstream.cli.webserver import HostOption, PortOption, with_web_address
from millstream.config import Settings, SettingsError, load_settings, mask_url
from millstream.private_files import make_private_folder

# Lines are printed whole, never wrapped at the terminal's (or a pipe's 80) columns: the
# generated password and key must stay on their lines for whoever copies or greps them.
console = Console(soft_wrap=True)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        Console(stderr=True).print(f"[red]Error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    if settings.scheduler.executor == "celery":
        from millstream.cli.celery_engine import check_celery_database
        from millstream.cli.common import guarded

        with guarded():
            check_celery_database(settings)
    return settings


def _open_database(settings: Settings) -> None:
    """Reach and migrate the database first: a bad URL, a server that is down or a schema
    from a newer version is one line naming the problem, not a traceback."""
    from millstream.cli.common import guarded
    from millstream.cli.engine import open_sql_store

    with guarded():
        store = open_sql_store(settings)
        store.close()
        store.engine.dispose()  # the fork server must not inherit an open connection


def _run(settings: Settings, extra_folders: tuple[Path, ...], with_triggerer: bool = False,
         with_webserver: bool = False, extra_folders_paused: bool | None = None) -> None:
    from millstream.cli.engine import scheduler_job
    from millstream.cli.triggerer import triggerer_thread
    from millstream.cli.webserver import webserver_thread

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        console.print(f"received {signal.Signals(signum).name}: stopping")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    logging.basicConfig(level=settings.logging.level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic narrates every start-up at INFO (plugins, dialect): keep only its warnings.
    alembic_log = logging.getLogger("alembic")
    alembic_log.setLevel(max(alembic_log.getEffectiveLevel(), logging.WARNING))
    with scheduler_job(settings, extra_folders, extra_folders_paused) as job:
        # After the executor's fork server started: it must not copy the triggerer's thread.
        triggers = triggerer_thread(settings) if with_triggerer else contextlib.nullcontext()
        web = webserver_thread(settings) if with_webserver else contextlib.nullcontext()
        with triggers, web as url:
            if url is not None:
                console.print(f"[green]web server on {url}[/green] (API at {url}/api/v1)",
                              highlight=False)
            console.print("[green]scheduler running[/green] (Ctrl-C to stop)")
            job.run(stop)


def scheduler() -> None:
    """Run the scheduler with the local executor until stopped (SIGTERM or Ctrl-C).

    It parses the dags folder, and the example DAGs too when core.load_examples is true.
    New DAGs start paused unless core.dags_are_paused_at_creation is false.
    """
    settings = _settings()
    _open_database(settings)
    extra: tuple[Path, ...] = ()
    if settings.core.load_examples:
        folder = _examples_folder()
        if folder is not None:
            _create_example_pools(settings, folder)
            console.print(f"examples     {folder}")
            extra = (folder,)
    _run(settings, extra)


def _examples_folder() -> Path | None:
    from millstream.parsing.dagbag import example_dags_folder

    folder = example_dags_folder()
    if folder is None:
        console.print("[yellow]warning:[/yellow] the example DAGs are not installed here; "
                      "loading none")
    return folder


def standalone(
    examples: Annotated[
        bool | None,
        typer.Option("--examples/--no-examples",
                     help="load the example DAGs (default: core.load_examples, else yes)"),
    ] = None,
    host: HostOption = None,
    port: PortOption = None,
) -> None:
    """Everything in one process, on the embedded database: migrate, load DAGs, schedule, run.

    The example DAGs start unpaused (except those that set is_paused_upon_creation), so
    that they run on a fresh machine; new DAGs in the dags folder start paused unless
    core.dags_are_paused_at_creation is false, as with `millstream scheduler`.
    """
    settings = with_web_address(_settings(), host, port)
    _open_database(settings)
    from millstream.secrets.crypto import ensure_fernet_key

    # A fresh home gets the key that encrypts connection passwords and variables.
    new_key = ensure_fernet_key(settings)
    if new_key is not None:
        # with the new key, which the web server encrypts with
        settings = with_web_address(_settings(), host, port)
    from millstream.cli.users import ADMIN_USERNAME, ensure_admin

    admin_password = ensure_admin(settings)
    home = Path(settings.core.home)
    dags_folder = Path(settings.core.dags_folder)
    make_private_folder(dags_folder)
    if examples is None:
        examples = settings.core.load_examples is not False
    extra: tuple[Path, ...] = ()
    folder = _examples_folder() if examples else None
    if folder is not None:
        extra = (folder,)
    console.rule("millstream standalone")
    console.print(f"home         {home}")
    console.print(f"database     {mask_url(settings.database.url)}")
    console.print(f"logs         {settings.logging.base_log_folder}")
    console.print(f"DAGs         {dags_folder}")
    if new_key is not None:
        console.print(f"fernet key   {new_key} (generated: keep it, secrets need it)")
    if folder is not None:
        console.print(f"examples     {folder}")
    if folder is not None:
        _create_example_pools(settings, folder)
    command = command_name()
    if admin_password is not None:
        console.print(f"login        {ADMIN_USERNAME} / {admin_password} (generated, shown "
                      "this once)", highlight=False)
    else:
        console.print(f"login        {ADMIN_USERNAME} / the password given before (forgot it? "
                      f"{command} users set-password {ADMIN_USERNAME})", highlight=False)
    console.print(f"trigger a run with: {command} dags trigger DAG_ID", highlight=False)
    _run(settings, extra, with_triggerer=True, with_webserver=True, extra_folders_paused=False)


EXAMPLE_POOL_SLOTS = 4


def _create_example_pools(settings: Settings, folder: Path) -> None:
    """The examples use pools (as the article's parallel sync does); create the missing ones."""
    from millstream.cli.engine import open_sql_store
    from millstream.parsing.dagbag import DagBag

    wanted = {task.pool for dag in DagBag(folder).dags.values() for task in dag.tasks}
    store = open_sql_store(settings)
    try:
        with store.transaction():
            for pool in sorted(wanted):
                if store.pools.slots(pool) is None:
                    store.pools.set(pool, EXAMPLE_POOL_SLOTS, "created for the example DAGs")
                    console.print(f"pool         {pool} ({EXAMPLE_POOL_SLOTS} slots, examples)")
    finally:
        store.close()
