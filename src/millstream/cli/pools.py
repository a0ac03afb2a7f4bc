"""``millstream pools ...``: list, create or resize, and delete the pools of worker slots."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from millstream.cli.common import cells, console, guarded, open_store, utcnow, who

pools_app = typer.Typer(help="Manage pools: named limits on how many tasks run at once.",
                        no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(help="The pool's name.")]


@pools_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the pools as JSON.")] = False,
) -> None:
    """List the pools with their slots and description."""
    with guarded(), open_store() as store:
        pools = store.pools.list()
    if as_json:
        typer.echo(json.dumps(
            [{"name": n, "slots": s, "description": d} for n, s, d in pools], indent=2
        ))
        return
    table = Table(title="Pools", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("slots", justify="right")
    table.add_column("description", overflow="fold")
    for name, slots, description in pools:
        table.add_row(*cells(name, str(slots), description or "-"))
    console().print(table)


# A negative size reaches the command (and its error message) instead of looking like an option.
@pools_app.command("set", context_settings={"ignore_unknown_options": True})
def set_command(
    name: NameArgument,
    slots: Annotated[int, typer.Argument(help="How many slots (0 or more).")],
    description: Annotated[
        str | None,
        typer.Option("--description", help="What the pool is for (default: keep it)."),
    ] = None,
) -> None:
    """Create a pool, or change the size and description of an existing one."""
    from millstream.services.pools import set_pool

    with guarded(), open_store() as store:
        set_pool(store, name, slots, who(), utcnow(), description)
    typer.echo(f"pool {name} has {slots} slot(s)")


@pools_app.command("delete")
def delete_command(name: NameArgument) -> None:
    """Delete a pool (default_pool cannot be deleted)."""
    from millstream.services.pools import delete_pool

    with guarded(), open_store() as store:
        delete_pool(store, name, who(), utcnow())
    typer.echo(f"pool {name} deleted")
