"""``millstream dags ...``: commands that work on DAG definitions (for now: ``dags test``)."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from millstream.testing import DagTestResult

EXIT_FAILED_RUN = 1
EXIT_BAD_INPUT = 2

STATE_STYLES = {
    "success": "green",
    "failed": "bold red",
    "upstream_failed": "dark_orange",
    "up_for_retry": "yellow",
    "skipped": "magenta",
    "removed": "dim",
}

dags_app = typer.Typer(help="Work with DAGs: run one for a test.", no_args_is_help=True)


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
    from millstream.exceptions import DagDefinitionError, ParamValidationError
    from millstream.parsing import DagImportError, DagNotFound, find_dag
    from millstream.testing import parse_logical_date

    run_conf = _parse_conf(conf)
    try:
        moment = parse_logical_date(logical_date)
    except ValueError as exc:
        _fail(str(exc))
    try:
        dag = find_dag(path_or_dag_id, dags_folder, dag_id=dag_id)
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


def _parse_conf(conf: str | None) -> dict[str, Any] | None:
    if conf is None:
        return None
    try:
        value = json.loads(conf)
    except json.JSONDecodeError as exc:
        _fail(f"--conf is not valid JSON: {exc}")
    if not isinstance(value, dict):
        _fail(f"--conf must be a JSON object like '{{\"key\": 1}}', got {type(value).__name__}")
    return value


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
