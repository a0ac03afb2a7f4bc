"""``millstream tasks ...``: list tasks, show and clear their instances, read logs, run one."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from millstream.cli.common import (
    EXIT_FAILED,
    cells,
    console,
    find_run,
    guarded,
    load_dag,
    load_settings,
    moment_text,
    open_store,
    state_text,
    utcnow,
    who,
)
from millstream.exceptions import InvalidInputError, NotFoundError
from millstream.private_files import append_private

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG
    from millstream.runtime.events import TaskWorkload

tasks_app = typer.Typer(
    help="Work with tasks: list them, show and clear their instances, read logs, run one.",
    no_args_is_help=True,
)

DagIdArgument = Annotated[str, typer.Argument(help="The DAG's id.")]
RunArgument = Annotated[str, typer.Argument(help="The run's id, or its logical date.")]
MapIndexOption = Annotated[
    int, typer.Option("--map-index", help="Which instance of a mapped task (default: unmapped).")
]


@tasks_app.command("list")
def list_command(dag_id: DagIdArgument) -> None:
    """List a DAG's tasks in topological order, with operator and trigger rule."""
    with guarded(), open_store() as store:
        _, structure = load_dag(store, dag_id)
    table = Table(title=Text(f"Tasks of {dag_id}"), title_justify="left")
    for column in ("task_id", "operator", "trigger rule", "retries", "pool", "downstream"):
        table.add_column(column, no_wrap=column != "downstream", overflow="fold")
    for task in structure.topological_sort():
        table.add_row(*cells(
            task.task_id + (" (mapped)" if task.is_mapped else ""), task.operator_name,
            task.trigger_rule.value, str(task.retries), task.pool,
            ", ".join(sorted(task.downstream_task_ids)) or "-",
        ))
    console().print(table)


@tasks_app.command("states")
def states_command(dag_id: DagIdArgument, run: RunArgument) -> None:
    """Show every task instance of one run: state, try, start, end and duration."""
    with guarded(), open_store() as store:
        _, structure = load_dag(store, dag_id)
        found = find_run(store, dag_id, run)
        instances = store.task_instances.for_run(dag_id, found.run_id)
    order = {task.task_id: i for i, task in enumerate(structure.topological_sort())}
    instances.sort(key=lambda ti: (order.get(ti.task_id, len(order)), ti.task_id, ti.map_index))
    table = Table()
    for column in ("task", "state", "try", "start", "end", "duration"):
        table.add_column(column, no_wrap=True,
                         justify="right" if column in ("try", "duration") else "left")
    for ti in instances:
        duration = ti.duration
        table.add_row(Text(ti.label), state_text(ti.state.value), str(ti.try_number),
                      moment_text(ti.start_date), moment_text(ti.end_date),
                      "-" if duration is None else f"{duration:.3f}s")
    out = console()
    out.print(Text(f"run {found.run_id} of {dag_id}: ").append_text(
        state_text(found.state.value)), soft_wrap=True)
    out.print(table)


@tasks_app.command("clear")
def clear_command(
    dag_id: DagIdArgument,
    run_id: Annotated[
        str | None,
        typer.Option("--run-id", help="Only this run (id or logical date); default: every run."),
    ] = None,
    task_regex: Annotated[
        str | None, typer.Option("--task-regex", "-t", help="Only tasks whose id matches this.")
    ] = None,
    downstream: Annotated[
        bool, typer.Option("--downstream", "-d", help="Also clear the tasks downstream.")
    ] = False,
    upstream: Annotated[
        bool, typer.Option("--upstream", "-u", help="Also clear the tasks upstream.")
    ] = False,
    only_failed: Annotated[
        bool, typer.Option("--only-failed", "-f", help="Only failed and upstream_failed tasks.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Reset finished task instances to none so the scheduler runs them again.

    Their XComs are removed, their retries are given back, and a run that had finished
    is queued again.
    """
    from millstream.services import clear

    with guarded(), open_store() as store:
        _, structure = load_dag(store, dag_id)
        if run_id is not None:
            run_ids = [find_run(store, dag_id, run_id).run_id]
        else:
            run_ids = [run.run_id for run in store.runs.list(dag_id)]
        task_ids = clear.select_tasks(structure, task_regex, downstream, upstream)
        preview = clear.clearable(store, dag_id, run_ids, task_ids, only_failed)
        if not preview:
            typer.echo("nothing to clear")
            return
        table = Table(title=f"Task instances to clear ({len(preview)})", title_justify="left")
        for column in ("run", "task", "state"):
            table.add_column(column, no_wrap=True)
        for ti in preview:
            table.add_row(*cells(ti.run_id, ti.label, state_text(ti.state.value)))
        console().print(table)
        if not yes and not typer.confirm(f"Clear these {len(preview)} task instance(s)?",
                                         default=False):
            typer.echo("nothing changed")
            raise typer.Exit(EXIT_FAILED)
        result = clear.clear(store, structure, dag_id, sorted({ti.run_id for ti in preview}),
                             task_ids, who(), utcnow(), only_failed)
    typer.echo(f"cleared {len(result.cleared)} task instance(s)")
    for run in result.requeued:
        typer.echo(f"run {run.run_id} queued again")


@tasks_app.command("respond")
def respond_command(
    dag_id: DagIdArgument,
    run: RunArgument,
    task_id: Annotated[str, typer.Argument(help="The waiting task's id.")],
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="An option chosen (repeat for several)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A value for the form: NAME=VALUE (VALUE is JSON "
                                           "if it parses as JSON, else text)."),
    ] = None,
    map_index: MapIndexOption = -1,
) -> None:
    """Answer a human-in-the-loop task (HITLOperator, ApprovalOperator ...) that is
    waiting for a response; without --option, show what it asks."""
    from millstream.services import hitl
    from millstream.store.records import TaskInstanceKey

    with guarded(), open_store() as store:
        key = TaskInstanceKey(dag_id, find_run(store, dag_id, run).run_id, task_id, map_index)
        if not option:
            request = hitl.pending_request(store, key, utcnow())
            typer.echo(f"{request['subject']}")
            if request.get("body"):
                typer.echo(request["body"])
            typer.echo(f"options: {', '.join(request['options'])}"
                       f"{' (several allowed)' if request['multiple'] else ''}")
            if request["params"]:
                typer.echo(f"params: {json.dumps(request['params'])}")
            return
        answer = hitl.respond(store, key, option, _params(param or []), who(), utcnow())
    typer.echo(f"answered {dag_id}.{task_id}: {', '.join(answer['chosen_options'])}")


def _params(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"--param {pair!r}: give NAME=VALUE")
        try:
            values[name] = json.loads(text)
        except ValueError:
            values[name] = text
    return values


@tasks_app.command("logs")
def logs_command(
    dag_id: DagIdArgument,
    run: RunArgument,
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    try_number: Annotated[
        int | None, typer.Option("--try", min=1, help="Which try (default: the latest).")
    ] = None,
    map_index: MapIndexOption = -1,
) -> None:
    """Print the log file of one try of a task instance."""
    from millstream.runtime.worker import try_log_path
    from millstream.store.records import TaskInstanceKey

    with guarded():
        settings = load_settings()
        with open_store(settings) as store:
            found = find_run(store, dag_id, run)
            key = TaskInstanceKey(dag_id, found.run_id, task_id, map_index)
            ti = store.task_instances.get(key)
        if ti is None:
            raise NotFoundError(f"run {found.run_id!r} of DAG {dag_id!r} has no task instance "
                           f"{_label(task_id, map_index)!r}")
        number = try_number if try_number is not None else ti.try_number
        if number < 1:
            raise InvalidInputError(f"task {ti.label!r} of run {found.run_id!r} has not run yet")
        if number > ti.try_number:
            raise InvalidInputError(f"task {ti.label!r} of run {found.run_id!r} has had "
                             f"{ti.try_number} try(s), not {number}")
        path = try_log_path(settings.logging.base_log_folder, key, number)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise InvalidInputError(
                f"no log file for try {number} of {ti.label!r}: {path}") from None
    typer.echo(text, nl=not text.endswith("\n"))


@tasks_app.command("run")
def run_command(
    dag_id: DagIdArgument,
    run: RunArgument,
    task_id: Annotated[str, typer.Argument(help="The task's id.")],
    map_index: MapIndexOption = -1,
    force: Annotated[
        bool, typer.Option("--force", help="Run it even if it has finished (success, failed ...).")
    ] = False,
) -> None:
    """Run one try of one task instance in this process and record its outcome.

    The arguments come in the order of every tasks command: DAG, run, task.
    The instance must be none, scheduled or up_for_retry (or finished, with --force).
    The DAG is imported from its file; the try's output goes to its log file and here.
    Exits 0 when the try succeeded (or skipped), 1 when it failed.
    """
    from millstream.model.states import TaskState
    from millstream.parsing import load_dag_file
    from millstream.runtime.events import TaskStartedEvent, TaskWorkload
    from millstream.runtime.task_runner import run_task_try
    from millstream.runtime.worker import lost_try_event, try_log_path, write_rendered_file
    from millstream.runtime.xcom import StoreXComReader
    from millstream.scheduler.events import apply_finished, apply_started
    from millstream.services.common import require_dag
    from millstream.services.runs import claim_for_manual_try
    from millstream.store.records import TaskInstanceKey

    with guarded():
        settings = load_settings()
        with open_store(settings, transaction=False) as store:
            with store.transaction():
                record = require_dag(store, dag_id)
            found = find_run(store, dag_id, run)
            if not record.fileloc:
                raise InvalidInputError(f"DAG {dag_id!r} has no DAG file recorded in the store")
            dag = _import_dag(load_dag_file(record.fileloc), dag_id, record.fileloc)
            task = dag.task_dict.get(task_id)
            if task is None:
                raise NotFoundError(f"DAG {dag_id!r} has no task {task_id!r}")
            if task.is_mapped and map_index < 0:
                raise InvalidInputError(f"task {task_id!r} is mapped: say which instance with "
                                 "--map-index")
            params = dag.resolve_params(found.conf)
            key = TaskInstanceKey(dag_id, found.run_id, task_id, map_index)
            ti = claim_for_manual_try(store, key, who(), utcnow(), force)
            workload = TaskWorkload(key, ti.try_number, ti.max_tries, found, params,
                                    record.fileloc, step_id=ti.step_id)
            log_path = try_log_path(settings.logging.base_log_folder, key, ti.try_number)
            start = utcnow()
            with store.transaction():
                apply_started(store, TaskStartedEvent(key, ti.try_number, start,
                                                      socket.gethostname(), os.getpid()))
            try:
                with _task_output(log_path, workload):
                    event = run_task_try(
                        task, workload, StoreXComReader(store),
                        on_rendered=lambda done: write_rendered_file(
                            settings.logging.base_log_folder, key, ti.try_number, done))
            except BaseException as exc:  # interrupted: the try still gets an outcome
                event = lost_try_event(workload, start, utcnow(),
                                       f"the try was interrupted: {type(exc).__name__}")
                with store.transaction():
                    apply_finished(store, dag, event)
                raise
            with store.transaction():
                apply_finished(store, dag, event)
    line = Text(f"{_label(task_id, map_index)} try {event.try_number}: ")
    line.append_text(state_text(event.state.value))
    console().print(line, soft_wrap=True)
    typer.echo(f"log: {log_path}")
    if event.state in (TaskState.FAILED, TaskState.UP_FOR_RETRY):
        if event.error:
            console().print(Text(event.error.strip().splitlines()[0], style="red"),
                            soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)


def _import_dag(dags: dict[str, DAG], dag_id: str, fileloc: str) -> DAG:
    dag = dags.get(dag_id)
    if dag is None:
        raise NotFoundError(f"DAG file {fileloc} no longer defines DAG {dag_id!r}")
    return dag


def _label(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


class _Tee:
    """A text stream that writes to the terminal and to the try's log file."""

    def __init__(self, primary: IO[str], copy: IO[str]) -> None:
        self._primary = primary
        self._copy = copy

    def write(self, text: str) -> int:
        self._copy.write(text)
        return self._primary.write(text)

    def flush(self) -> None:
        self._copy.flush()
        self._primary.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._primary, name)


@contextlib.contextmanager
def _task_output(path: Path, workload: TaskWorkload) -> Iterator[None]:
    """Send the try's prints and log records to its log file, and to this terminal; each
    record names the try, as in a try the executor runs."""
    from millstream.observability.logs import TryLabels, try_formatter, try_labels

    with append_private(path) as file:
        out, err = _Tee(sys.stdout, file), _Tee(sys.stderr, file)
        handler = logging.StreamHandler(err)  # type: ignore[arg-type]
        labels = try_labels(workload.key, workload.try_number)
        handler.addFilter(TryLabels(labels))
        handler.setFormatter(try_formatter(labels))
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):  # type: ignore[type-var]
                yield
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            file.flush()
