"""``millstream connections ...``: add, list, show, delete and test connections.

Passwords never appear in this command group's output: they show as ``***`` (``get
--reveal`` prints the real one, on request), as do the secret fields of an extra.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from millstream.cli.common import (
    EXIT_FAILED,
    cells,
    console,
    guarded,
    open_store,
    utcnow,
    who,
)
from millstream.exceptions import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from millstream.secrets.connection import Connection
    from millstream.secrets.service import ConnectionView
    from millstream.store.interfaces import Store

connections_app = typer.Typer(
    help="Manage connections: how tasks reach databases and services.", no_args_is_help=True
)

IdArgument = Annotated[str, typer.Argument(help="The connection id, e.g. warehouse_db.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PAGE = 500


@connections_app.command("add")
def add_command(
    conn_id: IdArgument,
    conn_uri: Annotated[str | None, typer.Option(
        "--conn-uri", help="The whole connection as a URI: type://login:password@host:port/schema"
    )] = None,
    conn_json: Annotated[str | None, typer.Option(
        "--conn-json", help='The connection as JSON: {"conn_type": "postgres", "host": ...}'
    )] = None,
    conn_type: Annotated[str | None, typer.Option(
        "--conn-type", help="postgres, sqlite, http ... (needed without --conn-uri)")] = None,
    conn_host: Annotated[str | None, typer.Option("--conn-host")] = None,
    conn_login: Annotated[str | None, typer.Option("--conn-login")] = None,
    conn_password: Annotated[str | None, typer.Option("--conn-password")] = None,
    conn_schema: Annotated[str | None, typer.Option("--conn-schema")] = None,
    conn_port: Annotated[str | None, typer.Option("--conn-port")] = None,
    conn_extra: Annotated[str | None, typer.Option(
        "--conn-extra", help='Extra settings as a JSON object, e.g. {"sslmode": "require"}'
    )] = None,
    conn_description: Annotated[str | None, typer.Option("--conn-description")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace the connection if it exists (else that is an error)."
    )] = False,
) -> None:
    """Add a connection, from a URI, from JSON, or field by field; stored encrypted."""
    from millstream.secrets import service

    with guarded():
        conn = _build(conn_id, conn_uri, conn_json, conn_type, conn_host, conn_login,
                      conn_password, conn_schema, conn_port, conn_extra, conn_description)
        with open_store() as store:
            _ensure_key()
            service.set_connection(store, conn, who(), utcnow(), must_not_exist=not overwrite)
    typer.echo(f"connection {conn_id} {'saved' if overwrite else 'added'}: "
               f"{conn.get_uri(masked=True)}")


def _build(conn_id: str, uri: str | None, as_json: str | None, conn_type: str | None,
           host: str | None, login: str | None, password: str | None, schema: str | None,
           port: str | None, extra: str | None, description: str | None) -> Connection:
    """The connection the options describe, or a ValueError naming the option at fault."""
    from millstream.secrets.connection import Connection

    fields = {"--conn-type": conn_type, "--conn-host": host, "--conn-login": login,
              "--conn-password": password, "--conn-schema": schema, "--conn-port": port}
    given = [name for name, value in fields.items() if value is not None]
    if uri is not None and as_json is not None:
        raise InvalidInputError("give --conn-uri or --conn-json, not both")
    if (uri is not None or as_json is not None) and given:
        which = "--conn-uri" if uri is not None else "--conn-json"
        raise InvalidInputError(
            f"{which} already holds the whole connection: drop {', '.join(given)}")
    if uri is not None:
        conn = Connection.from_uri(conn_id, uri, description)
    elif as_json is not None:
        conn = Connection.from_json(conn_id, as_json)
        conn.description = description or conn.description
    else:
        if conn_type is None:
            raise InvalidInputError("give --conn-uri, --conn-json or --conn-type (with the other "
                             "--conn-* fields)")
        conn = Connection(conn_id, conn_type, description, host, login, password, schema,
                          _port(port))
    if extra is not None:
        if conn.extra:
            raise InvalidInputError("the URI or JSON already has an extra: drop --conn-extra")
        conn.extra = extra
    conn.validate()
    return conn


def _port(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.strip().isdigit():
        raise InvalidInputError(f"--conn-port must be a number from 1 to 65535, got {text!r}")
    return int(text)


def _ensure_key() -> None:
    """A fresh home gets a Fernet key before its first secret is stored."""
    from millstream.secrets.crypto import ensure_fernet_key

    path = ensure_fernet_key()
    if path is not None:
        typer.echo(f"generated a Fernet key in {path}: secrets stored in the database can "
                   "only be read with it", err=True)


@connections_app.command("list")
def list_command(as_json: JsonOption = False) -> None:
    """List the connections in the database (passwords as ***)."""
    with guarded(), open_store() as store:
        views = _all_views(store)
    if as_json:
        typer.echo(json.dumps([_view_dict(v) for v in views], indent=2))
        return
    table = Table(title="Connections", title_justify="left")
    for name in ("conn_id", "conn_type", "host", "port", "schema", "login", "password",
                 "extra", "description"):
        table.add_column(name, overflow="fold", no_wrap=name == "conn_id")
    for view in views:
        table.add_row(*cells(
            view.conn_id, view.conn_type, view.host or "-",
            str(view.port) if view.port is not None else "-", view.schema or "-",
            view.login or "-", "***" if view.password_set else "-", view.extra or "-",
            view.description or "-",
        ))
    console().print(table)


def _all_views(store: Store) -> list[ConnectionView]:
    from millstream.secrets.service import list_connections

    views, total = list_connections(store, PAGE, 0)
    while len(views) < total:
        page, _ = list_connections(store, PAGE, len(views))
        if not page:
            break
        views.extend(page)
    return views


def _view_dict(view: ConnectionView) -> dict[str, object]:
    return {
        "conn_id": view.conn_id, "conn_type": view.conn_type, "description": view.description,
        "host": view.host, "schema": view.schema, "login": view.login, "port": view.port,
        "password": "***" if view.password_set else None,
        "extra": json.loads(view.extra) if view.extra and view.extra != "***" else view.extra,
        "is_encrypted": view.is_encrypted, "is_extra_encrypted": view.is_extra_encrypted,
    }


@connections_app.command("get")
def get_command(
    conn_id: IdArgument,
    as_json: JsonOption = False,
    reveal: Annotated[bool, typer.Option(
        "--reveal", help="Print the password and the extra's secrets instead of ***.")] = False,
) -> None:
    """Show a connection as tasks see it (environment, secrets file, then database)."""
    from millstream.secrets.service import connection_view, get_connection
    from millstream.store.current import using_store

    with guarded(), open_store() as store, using_store(store):
        conn = get_connection(conn_id)
        view = connection_view(conn)
    values = _view_dict(view)
    values.pop("is_encrypted")
    values.pop("is_extra_encrypted")
    if reveal:
        values["password"] = conn.password
        values["extra"] = conn.extra_dejson or None
    values["uri"] = conn.get_uri(masked=not reveal)
    if not reveal:
        from millstream.secrets.masking import redact_text

        values["uri"] = redact_text(str(values["uri"]))
    if as_json:
        typer.echo(json.dumps(values, indent=2))
        return
    table = Table(title=f"Connection {conn_id}", title_justify="left", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in values.items():
        shown = "-" if value is None else (
            json.dumps(value) if isinstance(value, dict) else str(value))
        table.add_row(Text(name), Text(shown))
    console().print(table)


@connections_app.command("delete")
def delete_command(conn_id: IdArgument) -> None:
    """Delete a connection from the database."""
    from millstream.secrets.service import delete_connection

    with guarded(), open_store() as store:
        if not delete_connection(store, conn_id, who(), utcnow()):
            raise NotFoundError(f"no connection {conn_id!r} in the database")
    typer.echo(f"connection {conn_id} deleted")


@connections_app.command("test")
def test_command(conn_id: IdArgument) -> None:
    """Try to reach the connection's system (postgres, sqlite, http); exit 1 if that fails."""
    from millstream.hooks.connection_tester import test_connection
    from millstream.secrets.service import get_connection
    from millstream.store.current import using_store

    with guarded(), open_store() as store, using_store(store):
        conn = get_connection(conn_id)
    ok, message = test_connection(conn)
    if ok:
        typer.echo(f"connection {conn_id} works: {message}")
        return
    typer.echo(f"Error: connection {conn_id} failed: {message}", err=True)
    raise typer.Exit(EXIT_FAILED)
