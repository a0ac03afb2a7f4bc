"""``millstream assets ...``: the assets tasks update, the DAGs scheduled on them, their events."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from millstream.cli.common import cells, console, guarded, moment_text, open_store
from millstream.exceptions import NotFoundError

if TYPE_CHECKING:
    from millstream.store.asset_records import AssetEventRecord

assets_app = typer.Typer(
    help="Data-aware scheduling: assets, the tasks that update them, the DAGs they trigger.",
    no_args_is_help=True,
)


def _source(event: AssetEventRecord) -> str:
    if event.source_dag_id is None:
        return "-"
    task = event.source_task_id or "?"
    if event.source_map_index >= 0:
        task = f"{task}[{event.source_map_index}]"
    return f"{event.source_dag_id}.{task}"


def _event_json(event: AssetEventRecord) -> dict[str, Any]:
    return {
        "id": event.id, "uri": event.uri, "timestamp": event.timestamp.isoformat(),
        "source_dag_id": event.source_dag_id, "source_task_id": event.source_task_id,
        "source_run_id": event.source_run_id, "source_map_index": event.source_map_index,
        "extra": event.extra,
    }


@assets_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the assets as JSON.")] = False,
) -> None:
    """List the assets: the tasks that update each, the DAGs scheduled on it, its last event.

    Only DAGs still present in the DAG files are shown as producers and consumers.
    """
    rows: list[dict[str, Any]] = []
    latest_events: list[AssetEventRecord | None] = []
    with guarded(), open_store() as store:
        active = {record.dag_id for record in store.dags.list()}
        for ref in store.assets.references():
            latest = store.assets.events(ref.uri, limit=1)
            latest_events.append(latest[0] if latest else None)
            rows.append({
                "uri": ref.uri,
                "producing_tasks": [f"{d}.{t}" for d, t in ref.producing_tasks if d in active],
                "consuming_dags": [d for d in ref.consuming_dags if d in active],
                "last_event": _event_json(latest[0]) if latest else None,
            })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no assets: no task has outlets and no DAG is scheduled on assets")
        return
    table = Table(title="Assets", title_justify="left")
    table.add_column("uri", overflow="fold")
    table.add_column("producing tasks", overflow="fold")
    table.add_column("consuming DAGs", overflow="fold")
    table.add_column("last event", no_wrap=True)
    for row, last in zip(rows, latest_events, strict=True):
        table.add_row(*cells(
            row["uri"], ", ".join(row["producing_tasks"]) or "-",
            ", ".join(row["consuming_dags"]) or "-",
            Text("never", style="dim") if last is None else
            f"{moment_text(last.timestamp)} by {_source(last)}",
        ))
    console().print(table)


@assets_app.command("events")
def events_command(
    asset: Annotated[
        str | None, typer.Option("--asset", help="Only the events of the asset with this URI.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many events.")] = 25,
    as_json: Annotated[bool, typer.Option("--json", help="Print the events as JSON.")] = False,
) -> None:
    """List the latest asset events, newest first: when, which asset, which task try."""
    with guarded(), open_store() as store:
        if asset is not None and store.assets.get(asset) is None:
            raise NotFoundError(f"no asset {asset!r} (see `millstream assets list`)")
        events = store.assets.events(asset, limit=limit)
    if as_json:
        typer.echo(json.dumps([_event_json(e) for e in events], indent=2))
        return
    if not events:
        typer.echo("no asset events" + (f" of {asset}" if asset else ""))
        return
    table = Table(title=Text(f"Events of {asset}" if asset else "Asset events"),
                  title_justify="left")
    for column in ("id", "when", "asset", "source task", "source run"):
        table.add_column(column, no_wrap=column != "asset", overflow="fold",
                         justify="right" if column == "id" else "left")
    for event in events:
        table.add_row(*cells(str(event.id), moment_text(event.timestamp), event.uri,
                             _source(event), event.source_run_id or "-"))
    console().print(table)
