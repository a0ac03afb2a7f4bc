"""``millstream dags ...``: list, pause, trigger, backfill and inspect DAGs and their runs."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from millstream.cli.common import STATE_STYLES

if TYPE_CHECKING:
    from millstream.testing import DagTestResult

EXIT_FAILED_RUN = 1
EXIT_BAD_INPUT = 2


dags_app = typer.Typer(
    help="Work with DAGs: list, pause, trigger, backfill, inspect runs, test one.",
    no_args_is_help=True,
)


def _stored_dag_file(dag_id: str) -> str | None:
    """The file that the database of the settings says defines ``dag_id``, or None. A
    database that does not exist is not created, and one that cannot be read is no answer."""
    from millstream.config import load_settings
    from millstream.store.sql import SqlStore, make_engine
    from millstream.store.sql.migrate import has_schema

    try:
        url = load_settings().database.url
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            return None
        engine = make_engine(url)
        try:
            if not has_schema(engine):
                return None
            store = SqlStore(engine)
            try:
                with store.transaction():
                    record = store.dags.get(dag_id)
            finally:
                store.close()
        finally:
            engine.dispose()
    except Exception:  # an unreachable or broken database only means "not found there"
        return None
    return record.fileloc if record is not None and record.fileloc else None


@dags_app.command("test")
def test_command(
    path_or_dag_id: Annotated[
        str, typer.Argument(help="A DAG file, or a dag id to look up in the dags folder.")
    ],
    dag_id: Annotated[
        str | None, typer.Option("--dag-id", help="Which DAG, when the file defines several.")
    ] = None,
    logical_date: Annotated[
        str | None,
        typer.Option("--logical-date", help="ISO date or date-time of the run (default: now)."),
    ] = None,
    conf: Annotated[
        str | None, typer.Option("--conf", help='Run conf as a JSON object, e.g. \'{"n": 3}\'.')
    ] = None,
    dags_folder: Annotated[
        str | None,
        typer.Option(
            "--dags-folder",
            help="Where to look up a dag id (default: $MILLSTREAM_DAGS_FOLDER, "
            "else $MILLSTREAM_HOME/dags).",
        ),
    ] = None,
    fast_retries: Annotated[
        bool, typer.Option("--fast-retries", help="Do not wait out retry delays.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show task logs, not only warnings.")
    ] = False,
) -> None:
    """Run one DAG run in this process, with no database or scheduler, and report each task.

    Exits 0 when the run succeeds, 1 when it fails, 2 when the input is wrong.
    """
    # Imported here so that `millstream --help` and `millstream version` stay fast.
    from millstream.exceptions import DagDefinitionError, InvalidInputError, ParamValidationError
    from millstream.parsing import DagImportError, DagNotFound, find_dag
    from millstream.services.inputs import parse_conf, parse_date

    try:
        run_conf = parse_conf(conf, "--conf") if conf is not None else None
        moment = parse_date(logical_date, "logical date")
    except InvalidInputError as exc:
        _fail(str(exc))
    try:
        try:
            dag = find_dag(path_or_dag_id, dags_folder, dag_id=dag_id)
        except DagNotFound:
            # A DAG the database knows from elsewhere (the examples, another folder).
            stored = None if dag_id or dags_folder else _stored_dag_file(path_or_dag_id)
            if stored is None:
                raise
            dag = find_dag(stored, None, dag_id=path_or_dag_id)
    except DagImportError as exc:
        _fail(f"cannot import DAG file {exc.summary}")
    except DagNotFound as exc:
        _fail(str(exc))
    with _task_logging(verbose):
        try:
            result = dag.test(logical_date=moment, conf=run_conf, fast_retries=fast_retries)
        except ParamValidationError as exc:
            _fail(f"bad --conf for DAG {dag.dag_id!r}: {exc}")
        except DagDefinitionError as exc:
            _fail(str(exc))
    _report(result)
    if not result.succeeded:
        raise typer.Exit(EXIT_FAILED_RUN)


def _fail(message: str) -> NoReturn:
    """One red line on stderr and exit code 2: bad input is not a crash, so no traceback."""
    line = " ".join(message.split())
    Console(stderr=True).print(Text(f"Error: {line}", style="red"), soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextlib.contextmanager
def _task_logging(verbose: bool) -> Iterator[None]:
    """Send log records to stderr while the run lasts; the handler goes away afterwards."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    old_level = root.level
    root.addHandler(handler)
    if verbose:
        root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _report(result: DagTestResult) -> None:
    console = Console()
    if not console.is_terminal:
        # Captured or piped output has no width of its own: keep every row on one line.
        widest = max((len(t.label) for t in result.tasks), default=0)
        console.width = max(console.width, widest + 50)
    table = Table(title=f"DAG {result.dag_id}", title_justify="left")
    table.add_column("task", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("tries", justify="right")
    table.add_column("duration", justify="right")
    for task in result.tasks:
        table.add_row(
            Text(task.label),
            Text(task.state, style=STATE_STYLES.get(task.state, "")),
            str(task.tries),
            "-" if task.duration is None else f"{task.duration:.3f}s",
        )
    console.print(table)
    for task in result.tasks:
        if task.state == "failed" and task.error:
            first_line = task.error.strip().splitlines()[0]
            console.print(Text(f"{task.label}: {first_line}", style="red"), soft_wrap=True)
    run_line = Text(f"run {result.run_id}: ")
    run_line.append(result.state, style=STATE_STYLES.get(result.state, "bold"))
    console.print(run_line, soft_wrap=True)


# -- commands over the metadata store ---------------------------------------------------------
@dags_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the DAGs as JSON.")] = False,
) -> None:
    """List the DAGs in the metadata database: paused flag, schedule, file, latest run."""
    from millstream.cli.common import cells, guarded, open_store
    from millstream.parsing.serialize import DagStructure

    rows: list[dict[str, Any]] = []
    with guarded(), open_store() as store:
        for record in store.dags.list():
            text = store.dags.structure(record.dag_id)
            structure = DagStructure.from_json_text(text) if text is not None else None
            runs = store.runs.list(record.dag_id)
            latest = runs[-1] if runs else None
            rows.append({
                "dag_id": record.dag_id,
                "paused": record.is_paused,
                "schedule": structure.schedule_display if structure is not None else None,
                "fileloc": record.fileloc,
                "latest_run": latest.run_id if latest else None,
                "latest_run_state": latest.state.value if latest else None,
            })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="DAGs", title_justify="left")
    for column in ("dag_id", "paused", "schedule", "fileloc", "latest run"):
        table.add_column(column, no_wrap=column != "fileloc", overflow="fold")
    for row in rows:
        state = row["latest_run_state"]
        table.add_row(*cells(
            row["dag_id"], "yes" if row["paused"] else "no", row["schedule"] or "-",
            row["fileloc"] or "-",
            Text("-") if state is None else Text(state, style=STATE_STYLES.get(state, "")),
        ))
    _console().print(table)


DagIdArgument = Annotated[str, typer.Argument(help="The DAG's id.")]


@dags_app.command("pause")
def pause_command(dag_id: DagIdArgument) -> None:
    """Pause a DAG: no new scheduled runs, and its queued runs wait."""
    _set_paused(dag_id, True)


@dags_app.command("unpause")
def unpause_command(dag_id: DagIdArgument) -> None:
    """Unpause a DAG: the scheduler creates its due runs and starts its queued ones."""
    _set_paused(dag_id, False)


def _set_paused(dag_id: str, paused: bool) -> None:
    from millstream.cli.common import guarded, open_store, utcnow, who
    from millstream.services.pause import set_paused

    with guarded(), open_store() as store:
        changed = set_paused(store, dag_id, paused, who(), utcnow())
    word = "paused" if paused else "unpaused"
    typer.echo(f"DAG {dag_id} {word}" if changed else f"DAG {dag_id} was already {word}")


ConfOption = Annotated[
    str | None, typer.Option("--conf", help='Run conf as a JSON object, e.g. \'{"n": 3}\'.')
]


@dags_app.command("trigger")
def trigger_command(
    dag_id: DagIdArgument,
    conf: ConfOption = None,
    logical_date: Annotated[
        str | None,
        typer.Option("--logical-date", help="ISO date or date-time of the run (default: now)."),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="The run's id (default: manual__<date>).")
    ] = None,
) -> None:
    """Create a queued manual run of a DAG for a scheduler to start; prints its run id.

    The conf is checked against the DAG's params before anything is stored.
    """
    from millstream.cli.common import guarded, open_store, utcnow, who
    from millstream.services.common import require_dag
    from millstream.services.trigger import trigger_run

    with guarded(), open_store() as store:
        run = trigger_run(store, dag_id, who=who(), now=utcnow(), conf=conf,
                          logical_date=logical_date, run_id=run_id, conf_field="--conf",
                          date_field="--logical-date")
        record = require_dag(store, dag_id)
    if record.is_paused:
        Console(stderr=True).print(
            Text(f"note: DAG {dag_id} is paused; the run waits until it is unpaused",
                 style="yellow"), soft_wrap=True)
    typer.echo(run.run_id)


@dags_app.command("list-runs")
def list_runs_command(
    dag_id: DagIdArgument,
    state: Annotated[
        str | None, typer.Option("--state", help="Only runs in this state.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs.")] = 25,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """List a DAG's runs, newest logical date first."""
    from millstream.cli.common import cells, guarded, moment_text, open_store, state_text
    from millstream.model.states import DagRunState
    from millstream.services.common import require_dag
    from millstream.services.inputs import parse_choice

    with guarded():
        states = None if state is None else [parse_choice(state, DagRunState, "run state")]
        with open_store() as store:
            require_dag(store, dag_id)
            runs = list(reversed(store.runs.list(dag_id, states)))[:limit]
    if as_json:
        typer.echo(json.dumps([
            {"run_id": r.run_id, "state": r.state.value, "run_type": r.run_type,
             "logical_date": r.logical_date.isoformat(),
             "start_date": r.start_date.isoformat() if r.start_date else None,
             "end_date": r.end_date.isoformat() if r.end_date else None, "conf": r.conf}
            for r in runs
        ], indent=2))
        return
    table = Table(title=Text(f"Runs of {dag_id}"), title_justify="left")
    for column in ("run_id", "state", "type", "logical date", "start", "end"):
        table.add_column(column, no_wrap=True)
    for run in runs:
        table.add_row(*cells(run.run_id, state_text(DagRunState(run.state).value),
                             run.run_type, moment_text(run.logical_date),
                             moment_text(run.start_date), moment_text(run.end_date)))
    _console().print(table)


@dags_app.command("state")
def state_command(
    dag_id: DagIdArgument,
    run: Annotated[str, typer.Argument(help="The run's id, or its logical date.")],
) -> None:
    """Print the state of one run (queued, running, success or failed)."""
    from millstream.cli.common import find_run, guarded, open_store

    with guarded(), open_store() as store:
        found = find_run(store, dag_id, run)
    typer.echo(found.state.value)


@dags_app.command("list-import-errors")
def list_import_errors_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the errors as JSON.")] = False,
) -> None:
    """List the DAG files that failed to import, with the error that says why."""
    from millstream.cli.common import cells, guarded, moment_text, open_store

    with guarded(), open_store() as store:
        errors = store.import_errors.list()
    if as_json:
        typer.echo(json.dumps([
            {"filename": e.filename, "timestamp": e.timestamp.isoformat(),
             "traceback": e.traceback} for e in errors
        ], indent=2))
        return
    if not errors:
        typer.echo("no import errors")
        return
    table = Table(title="Import errors", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("when", no_wrap=True)
    table.add_column("error", overflow="fold")
    for error in errors:
        lines = [line for line in error.traceback.strip().splitlines() if line.strip()]
        table.add_row(*cells(error.filename, moment_text(error.timestamp),
                             Text(lines[-1] if lines else "", style="red")))
    _console().print(table)


@dags_app.command("backfill")
def backfill_command(
    dag_id: DagIdArgument,
    start: Annotated[str, typer.Option(
        "--start-date", "-s", "--start", help="First logical date (ISO).")],
    end: Annotated[str, typer.Option(
        "--end-date", "-e", "--end", help="Last logical date (ISO), included.")],
    conf: ConfOption = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Create the runs and return at once.")
    ] = False,
    run_here: Annotated[
        bool, typer.Option("--run-here", help="Run them with a scheduler in this process.")
    ] = False,
) -> None:
    """Create a backfill run for each schedule interval whose logical date is from start to end.

    Dates that already have a run are left alone, so repeating a backfill creates nothing
    new. Unless --no-wait, waits with a progress bar until every run has finished
    (exit 0 if all succeeded, 1 if any failed); the runs are started by the running
    scheduler, or by one in this process with --run-here.
    """
    from millstream.cli.backfill import create_backfill, wait_for_runs

    settings, created, existing = create_backfill(dag_id, start, end, conf)
    typer.echo(f"created {len(created)} backfill run(s) of {dag_id}"
               + (f"; {len(existing)} date(s) already had a run" if existing else ""))
    if no_wait:
        return
    keys = [run.run_id for run in [*existing, *created]]
    if not wait_for_runs(settings, dag_id, keys, run_here):
        raise typer.Exit(EXIT_FAILED_RUN)


def _console() -> Console:
    from millstream.cli.common import console

    return console()
