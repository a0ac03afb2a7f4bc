"""``millstream dags backfill``'s work: creating the runs, then waiting for them to finish.

The command itself is in :mod:`millstream.cli.dags`; the runs are planned from the DAG's
stored schedule and stored by :func:`millstream.services.backfill.backfill`; this module
shows their progress until they have all finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from millstream.cli.common import fail, guarded, open_store, utcnow, who

if TYPE_CHECKING:
    from millstream.config import Settings
    from millstream.store.records import DagRunRecord

POLL_INTERVAL_S = 0.5
EXIT_INTERRUPTED = 130


def create_backfill(
    dag_id: str, start: str, end: str, conf: str | None
) -> tuple[Settings, list[DagRunRecord], list[DagRunRecord]]:
    """Store the backfill's runs; returns the settings, the new runs and those that existed."""
    from millstream.cli.common import load_settings
    from millstream.services.backfill import backfill
    from millstream.services.common import require_dag

    with guarded():
        settings = load_settings()
        with open_store(settings) as store:
            result = backfill(store, dag_id, start, end, who=who(), now=utcnow(), conf=conf,
                              start_field="--start-date", end_field="--end-date",
                              conf_field="--conf")
            record = require_dag(store, dag_id)
    if record.is_paused:
        Console(stderr=True).print(
            Text(f"note: DAG {dag_id} is paused; its runs wait until it is unpaused",
                 style="yellow"), soft_wrap=True)
    return settings, result.created, result.existing


def wait_for_runs(settings: Settings, dag_id: str, run_ids: list[str], run_here: bool) -> bool:
    """Show finished/total until every run has finished; True if all of them succeeded."""
    from millstream.model.states import FINISHED_RUN_STATES, DagRunState

    wanted = set(run_ids)
    states: dict[str, DagRunState] = {}
    with guarded(), open_store(settings, transaction=False) as store:

        def read_states() -> None:
            with store.transaction():
                runs = store.runs.list(dag_id)
            states.update({r.run_id: DagRunState(r.state) for r in runs if r.run_id in wanted})

        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("runs finished"), TimeElapsedColumn())
        with Progress(*columns, console=Console(stderr=True)) as progress:
            bar = progress.add_task(f"backfill {dag_id}", total=len(wanted))

            def all_finished() -> bool:
                read_states()
                done = sum(1 for s in states.values() if s in FINISHED_RUN_STATES)
                progress.update(bar, completed=done)
                return done >= len(wanted)

            try:
                if run_here:
                    _run_here(settings, all_finished)
                else:
                    while not all_finished():
                        time.sleep(POLL_INTERVAL_S)
            except KeyboardInterrupt:
                progress.stop()
                typer.echo("stopped waiting; the backfill runs go on", err=True)
                raise typer.Exit(EXIT_INTERRUPTED) from None
    failed = sorted(r for r, s in states.items() if s is DagRunState.FAILED)
    typer.echo(f"{len(wanted) - len(failed)} run(s) succeeded, {len(failed)} failed")
    for run_id in failed:
        typer.echo(f"failed: {run_id}")
    return not failed


def _run_here(settings: Settings, predicate: Callable[[], bool]) -> None:
    """Drive the runs with a scheduler in this process until ``predicate()`` is true."""
    try:
        from millstream.cli.engine import run_scheduler_until
    except ImportError:
        fail("--run-here needs the in-process scheduler, which this installation lacks; "
             "start `millstream scheduler` and leave --run-here out")
    run_scheduler_until(settings, predicate)
