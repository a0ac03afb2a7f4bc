"""``millstream triggerer``: run the triggers of deferred tasks (also inside standalone)."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console

from millstream.config import Settings

console = Console()
log = logging.getLogger("millstream.triggerer")

DEFAULT_CAPACITY = 1000


def put_dags_folder_on_path(settings: Settings) -> None:
    """Let the triggerer import triggers kept with the DAGs (``dags/common/triggers.py``
    serialized as ``common.triggers.MyTrigger``), as Airflow does.

    The folder goes to the end of ``sys.path``: it never shadows an installed module.
    """
    folder = str(settings.core.dags_folder)
    if folder not in sys.path:
        sys.path.append(folder)


def triggerer(
    capacity: Annotated[
        int, typer.Option(min=1, help="the most triggers this triggerer runs at once")
    ] = DEFAULT_CAPACITY,
) -> None:
    """Run deferred tasks' triggers until stopped (SIGTERM or Ctrl-C)."""
    from millstream import observability
    from millstream.cli.common import guarded
    from millstream.cli.engine import database_watchdog, open_sql_store
    from millstream.config import load_settings
    from millstream.services.asset_watchers import StoredAssetWatchers
    from millstream.triggerer.job import TriggererJob

    # Bad settings, an unreachable database or a schema from a newer version: one line.
    with guarded():
        settings = load_settings()
        store = open_sql_store(settings)
    put_dags_folder_on_path(settings)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        console.print(f"received {signal.Signals(signum).name}: stopping")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    observability.setup_logging(settings)
    observability.configure(settings)
    observability.serve_triggerer(settings)
    try:
        with database_watchdog(settings, store, "triggerer"):
            job = TriggererJob(store, capacity=capacity, watch_source=StoredAssetWatchers())
            console.print(f"[green]triggerer running[/green] as {job.triggerer_id} "
                          f"(capacity {capacity}; Ctrl-C to stop)")
            job.run(stop)
    finally:
        store.close()


@contextlib.contextmanager
def triggerer_thread(settings: Settings, capacity: int = DEFAULT_CAPACITY) -> Iterator[None]:
    """A triggerer in a thread of this process (standalone), with a store of its own;
    it stops and gives its triggers back when the block ends."""
    from millstream.cli.engine import database_watchdog, open_sql_store
    from millstream.services.asset_watchers import StoredAssetWatchers
    from millstream.triggerer.job import TriggererJob

    put_dags_folder_on_path(settings)
    stop = threading.Event()
    store = open_sql_store(settings)
    watchdog = database_watchdog(settings, store, "triggerer")
    watchdog.__enter__()
    job = TriggererJob(store, capacity=capacity, watch_source=StoredAssetWatchers())

    def run() -> None:
        try:
            job.run(stop)
        except Exception:
            log.exception("the triggerer stopped")

    thread = threading.Thread(target=run, name="millstream-triggerer", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(15)
        watchdog.__exit__(None, None, None)
        store.close()
