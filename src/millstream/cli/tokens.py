"""``millstream tokens ...``: create, list and revoke REST API bearer tokens."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from millstream.cli.common import cells, console, guarded, moment_text, open_store, utcnow, who
from millstream.model.limits import MAX_TOKEN_DAYS

tokens_app = typer.Typer(help="Manage bearer tokens for the REST API.", no_args_is_help=True)


@tokens_app.command("create")
def create_command(
    user: Annotated[str, typer.Option("--user", help="The user the token acts as.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for.")] = "",
    expires_in_days: Annotated[
        float | None,
        typer.Option("--expires-in-days", min=0.0, max=float(MAX_TOKEN_DAYS),
                     help=f"Days until it expires, up to {MAX_TOKEN_DAYS} (default: never)."),
    ] = None,
) -> None:
    """Create a token and print it: it is shown this once, and only its hash is kept.

    Send it as ``Authorization: Bearer <token>``.
    """
    from millstream.api import accounts

    expires = None if expires_in_days is None else timedelta(days=expires_in_days)
    with guarded(), open_store() as store:
        record, token = accounts.create_token(store, user, who(), utcnow(), name, expires)
    until = f", expires {moment_text(record.expires_at)}" if record.expires_at else ""
    Console(stderr=True).print(
        f"token {record.token_id} for {user}{until} (store it now: it is not shown again)",
        soft_wrap=True, highlight=False)
    typer.echo(token)


@tokens_app.command("list")
def list_command(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the tokens as JSON.")] = False,
) -> None:
    """List the tokens (their ids and owners; the tokens themselves are not kept)."""
    with guarded(), open_store() as store:
        tokens = store.api_tokens.list(user)
    if as_json:
        typer.echo(json.dumps([
            {"token_id": t.token_id, "user": t.username, "name": t.name,
             "created_at": t.created_at.isoformat(),
             "expires_at": t.expires_at.isoformat() if t.expires_at else None}
            for t in tokens], indent=2))
        return
    table = Table(title="API tokens", title_justify="left")
    for column in ("id", "user", "name", "created", "expires"):
        table.add_column(column, no_wrap=column != "name")
    for token in tokens:
        table.add_row(*cells(token.token_id, token.username, token.name,
                             moment_text(token.created_at), moment_text(token.expires_at)))
    console().print(table)


@tokens_app.command("delete")
def delete_command(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `tokens list`).")],
) -> None:
    """Revoke a token: requests that send it are refused from now on."""
    from millstream.api import accounts

    with guarded(), open_store() as store:
        accounts.delete_token(store, token_id, who(), utcnow())
    typer.echo(f"token {token_id} revoked")
