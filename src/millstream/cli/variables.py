"""``millstream variables ...``: set, get, list, delete, import and export variables.

Values are stored encrypted. A variable whose key names a secret (``password``,
``api_key`` ...) shows as ``***`` in listings and in ``get`` unless ``--reveal`` is given;
``export`` writes real values, to a file only its owner may read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from millstream.cli.common import cells, console, guarded, open_store, utcnow, who
from millstream.exceptions import InvalidInputError, NotFoundError
from millstream.model.limits import limits_in_force
from millstream.services.inputs import parse_json

if TYPE_CHECKING:
    from millstream.secrets.service import VariableView
    from millstream.store.interfaces import Store

variables_app = typer.Typer(
    help="Manage variables: settings that DAGs and tasks read with Variable.get.",
    no_args_is_help=True,
)

KeyArgument = Annotated[str, typer.Argument(help="The variable's key.")]
PAGE = 500


def _ensure_key() -> None:
    from millstream.secrets.crypto import ensure_fernet_key

    path = ensure_fernet_key()
    if path is not None:
        typer.echo(f"generated a Fernet key in {path}: secrets stored in the database can "
                   "only be read with it", err=True)


@variables_app.command("set")
def set_command(
    key: KeyArgument,
    value: Annotated[str, typer.Argument(help="The value (text; JSON with --json).")],
    as_json: Annotated[bool, typer.Option(
        "--json", help="VALUE is JSON: check it and store it as JSON.")] = False,
    description: Annotated[str | None, typer.Option(
        "--description", help="What the variable is for (default: keep the current one).")
    ] = None,
) -> None:
    """Create or replace a variable."""
    from millstream.secrets import service

    with guarded():
        if as_json:
            value = json.dumps(parse_json(value, f"variable {key!r}: VALUE (--json)"))
        service.check_variable(key, value, description)
        with open_store() as store:
            _ensure_key()
            service.set_variable(store, key, value, who(), utcnow(), description)
    typer.echo(f"variable {key} set")


@variables_app.command("get")
def get_command(
    key: KeyArgument,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Decode the value as JSON and print it indented.")] = False,
    default: Annotated[str | None, typer.Option(
        "--default", help="Print this when the variable does not exist (else exit 2).")
    ] = None,
    reveal: Annotated[bool, typer.Option(
        "--reveal", help="Print a secret variable's value instead of ***.")] = False,
) -> None:
    """Print a variable as tasks see it (environment, secrets file, then database)."""
    from millstream.secrets.masking import MASK, is_sensitive_name
    from millstream.secrets.variable import Variable
    from millstream.store.current import using_store

    with guarded(), open_store() as store, using_store(store):
        value = Variable.get(key) if default is None else Variable.get(key, default_var=default)
        if as_json and value is not None:
            try:
                decoded = json.loads(value)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"variable {key!r} is not valid JSON: {exc.msg}") from None
    if is_sensitive_name(key) and not reveal and value is not None:
        typer.echo(MASK)
        return
    typer.echo(json.dumps(decoded, indent=2) if as_json and value is not None else value)


@variables_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the variables in the database (secret ones as ***)."""
    with guarded(), open_store() as store:
        views = _all_views(store)
    if as_json:
        typer.echo(json.dumps([
            {"key": v.key, "value": v.value, "description": v.description,
             "is_encrypted": v.is_encrypted} for v in views
        ], indent=2))
        return
    table = Table(title="Variables", title_justify="left")
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("description", overflow="fold")
    table.add_column("encrypted")
    for view in views:
        table.add_row(*cells(view.key, view.value, view.description or "-",
                             "yes" if view.is_encrypted else "no"))
    console().print(table)


def _all_views(store: Store) -> list[VariableView]:
    from millstream.secrets.service import list_variables

    views, total = list_variables(store, PAGE, 0)
    while len(views) < total:
        page, _ = list_variables(store, PAGE, len(views))
        if not page:
            break
        views.extend(page)
    return views


@variables_app.command("delete")
def delete_command(key: KeyArgument) -> None:
    """Delete a variable from the database."""
    from millstream.secrets.service import delete_variable

    with guarded(), open_store() as store:
        if not delete_variable(store, key, who(), utcnow()):
            raise NotFoundError(f"no variable {key!r} in the database")
    typer.echo(f"variable {key} deleted")


@variables_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A JSON file holding one object: key -> value.")],
) -> None:
    """Set every variable of a JSON file, all or none (values that are not text become JSON)."""
    from millstream.secrets.service import import_variables

    with guarded():
        values = _read_import_file(file)
        with open_store() as store:
            _ensure_key()
            keys = import_variables(store, values, who(), utcnow())
    typer.echo(f"imported {len(keys)} variable(s) from {file}")


def _read_import_file(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
    values = parse_json(text, str(file), max_bytes=limits_in_force().max_request_bytes)
    if not isinstance(values, dict):
        raise InvalidInputError(f"{file} must hold one JSON object of key -> value, "
                         f"got {type(values).__name__}")
    return values


@variables_app.command("export")
def export_command(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON object of variables.")],
) -> None:
    """Write every variable in the database, decrypted, to a JSON file (owner-only)."""
    from millstream.secrets.service import export_variables

    with guarded():
        with open_store() as store:
            values = export_variables(store)
        text = json.dumps(values, indent=2, sort_keys=True) + "\n"
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # a file that existed keeps no wider permissions
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise InvalidInputError(f"cannot write {file}: {exc.strerror}") from None
    typer.echo(f"exported {len(values)} variable(s) to {file}")
