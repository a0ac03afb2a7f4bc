"""``millstream dags backfill``'s work: which logical dates to backfill, creating the runs, waiting.

The command itself is in :mod:`millstream.cli.dags`; this module plans the dates from the
DAG's stored schedule, stores the runs through :func:`millstream.store.actions.backfill`
and shows their progress until they have all finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from millstream.cli.common import (
    fail,
    guarded,
    load_dag,
    open_store,
    parse_conf,
    parse_date,
    plan_run,
    utcnow,
    who,
)

if TYPE_CHECKING:
    from millstream.config import Settings
    from millstream.parsing.serialize import DagStructure
    from millstream.store.records import DagRunRecord

MAX_BACKFILL_RUNS = 10_000
"""More runs than this in one backfill is almost certainly a mistake in the dates."""

POLL_INTERVAL_S = 0.5
EXIT_INTERRUPTED = 130

_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def backfill_dates(structure: DagStructure, start: datetime, end: datetime) -> list[datetime]:
    """The logical dates of the DAG's schedule intervals that start in [start, end].

    The DAG's own start and end dates narrow the range; a timedelta schedule keeps the
    grid laid from the DAG's start date.
    """
    from millstream.model.intervals import DeltaSchedule, NoSchedule, OnceSchedule

    timetable = structure.timetable
    if isinstance(timetable, NoSchedule | OnceSchedule):
        raise ValueError(
            f"DAG {structure.dag_id!r} has no periodic schedule "
            f"({structure.schedule_display or 'None'}); backfill needs a cron or timedelta "
            "schedule (use `millstream dags trigger --logical-date` for single runs)"
        )
    if end < start:
        raise ValueError(f"--end {end.isoformat()} is before --start {start.isoformat()}")
    low, high = start, end
    if structure.start_date is not None:
        low = max(low, structure.start_date)
        if isinstance(timetable, DeltaSchedule):
            steps = -((structure.start_date - low) // timetable.delta)  # round up
            low = structure.start_date + steps * timetable.delta
    if structure.end_date is not None:
        high = min(high, structure.end_date)
    if low > high:
        return []
    intervals = timetable.missed_intervals(None, low, high, True, _FAR_FUTURE,
                                           limit=MAX_BACKFILL_RUNS + 1)
    dates = [interval.start for interval in intervals if low <= interval.start <= high]
    if len(dates) > MAX_BACKFILL_RUNS:
        raise ValueError(
            f"the range holds more than {MAX_BACKFILL_RUNS} runs of DAG {structure.dag_id!r}; "
            "backfill a shorter range at a time"
        )
    return dates


def create_backfill(
    dag_id: str, start: str, end: str, conf: str | None
) -> tuple[Settings, list[DagRunRecord], list[DagRunRecord]]:
    """Store the backfill's runs; returns the settings, the new runs and those that existed."""
    from millstream.cli.common import load_settings
    from millstream.exceptions import ParamValidationError
    from millstream.store import actions

    with guarded():
        settings = load_settings()
        first, last = parse_date(start, "--start"), parse_date(end, "--end")
        run_conf = parse_conf(conf)
        now = utcnow()
        with open_store(settings) as store:
            record, structure = load_dag(store, dag_id)
            try:
                planned = [plan_run(structure, date, now, "backfill", run_conf)
                           for date in backfill_dates(structure, first, last)]
            except ParamValidationError as exc:
                raise ValueError(f"bad --conf for DAG {dag_id!r}: {exc}") from None
            result = actions.backfill(store, dag_id, planned, who(), now)
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
    with guarded(), open_store(settings) as store:

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
