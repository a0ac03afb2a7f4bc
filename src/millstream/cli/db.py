"""``millstream db ...``: create, upgrade, check and reset the metadata database's schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

EXIT_PENDING = 1
EXIT_BAD_INPUT = 2

_T = TypeVar("_T")

db_app = typer.Typer(help="Manage the metadata database's schema.", no_args_is_help=True)

UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Database URL; by default [database] url from the settings."),
]


@db_app.command("migrate")
def migrate_command(url: UrlOption = None) -> None:
    """Create the schema, or upgrade it with every migration not applied yet."""
    from millstream.store.sql.migrate import check, migrate

    target = _resolve_url(url)
    _ensure_sqlite_file(target)
    pending = _guarded(lambda: check(target))
    _guarded(lambda: migrate(target))
    if pending:
        typer.echo(f"applied {', '.join(pending)} to {_shown(target)}")
    else:
        typer.echo(f"{_shown(target)} is up to date")
    if not url:  # this home's own database: it gets the key its secrets are encrypted with
        _ensure_fernet_key()


def _ensure_fernet_key() -> None:
    from millstream.config import SettingsError, load_settings
    from millstream.secrets.crypto import ensure_fernet_key

    try:
        path = ensure_fernet_key(load_settings())
    except (SettingsError, OSError) as exc:
        _fail(f"cannot write the Fernet key: {exc}")
    if path is not None:
        typer.echo(f"generated a Fernet key in {path} (connections and variables are "
                   "encrypted with it; keep it safe)")


@db_app.command("check")
def check_command(url: UrlOption = None) -> None:
    """Exit 0 if the schema is up to date, 1 (listing them) if migrations are pending."""
    from millstream.store.sql.migrate import check

    target = _resolve_url(url)
    missing = _sqlite_file(target)
    if missing is not None and not missing.exists():
        typer.echo(f"{_shown(target)} does not exist yet; run `millstream db migrate`")
        raise typer.Exit(EXIT_PENDING)
    pending = _guarded(lambda: check(target))
    if pending:
        typer.echo(f"{_shown(target)} needs migrations: {', '.join(pending)}; "
                   "run `millstream db migrate`")
        raise typer.Exit(EXIT_PENDING)
    typer.echo(f"{_shown(target)} is up to date")


@db_app.command("reset")
def reset_command(
    url: UrlOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop every millstream table (all runs, history and settings in it) and migrate again."""
    from millstream.store.sql.migrate import reset

    target = _resolve_url(url)
    if not yes and not typer.confirm(f"Delete all data in {_shown(target)}?", default=False):
        typer.echo("nothing changed")
        raise typer.Exit(EXIT_PENDING)
    _ensure_sqlite_file(target)
    _guarded(lambda: reset(target))
    typer.echo(f"{_shown(target)} was reset and migrated")


def _guarded(action: Callable[[], _T]) -> _T:
    """Run ``action``; a bad URL, an unreachable database or a migration problem exits 2."""
    from millstream.exceptions import InvalidInputError
    from millstream.store.sql.engine import DatabaseError, describe_database_error
    from millstream.store.sql.migrate import MigrationError

    try:
        return action()
    except (MigrationError, InvalidInputError, DatabaseError) as exc:
        _fail(describe_database_error(exc))


def _resolve_url(url: str | None) -> str:
    if url:
        return url
    from millstream.config import SettingsError, load_settings

    try:
        return load_settings().database.url
    except SettingsError as exc:
        _fail(str(exc))


def _shown(url: str) -> str:
    from millstream.store.sql.engine import shown_url

    return _guarded(lambda: shown_url(url))


def _sqlite_file(url: str) -> Path | None:
    from millstream.store.sql.engine import sqlite_file

    return _guarded(lambda: sqlite_file(url))


def _ensure_sqlite_file(url: str) -> None:
    from millstream.store.sql.engine import ensure_sqlite_file

    _guarded(lambda: ensure_sqlite_file(url))


def _fail(message: str) -> NoReturn:
    line = " ".join(message.split())
    Console(stderr=True).print(Text(f"Error: {line}", style="red"), soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)
