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
    _ensure_sqlite_folder(target)
    pending = _guarded(lambda: check(target))
    _guarded(lambda: migrate(target))
    if pending:
        typer.echo(f"applied {', '.join(pending)} to {_shown(target)}")
    else:
        typer.echo(f"{_shown(target)} is up to date")


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
    _ensure_sqlite_folder(target)
    _guarded(lambda: reset(target))
    typer.echo(f"{_shown(target)} was reset and migrated")


def _guarded(action: Callable[[], _T]) -> _T:
    """Run ``action``; a bad URL, an unreachable database or a migration problem exits 2."""
    from sqlalchemy.exc import SQLAlchemyError

    from millstream.store.sql.migrate import MigrationError

    try:
        return action()
    except (MigrationError, ValueError, SQLAlchemyError) as exc:
        _fail(str(exc).split("\n(Background on this error")[0])


def _resolve_url(url: str | None) -> str:
    if url:
        return url
    from millstream.config import SettingsError, load_settings

    try:
        return load_settings().database.url
    except SettingsError as exc:
        _fail(str(exc))


def _shown(url: str) -> str:
    """The URL with any password hidden."""
    from sqlalchemy.engine import make_url

    return _guarded(lambda: make_url(url)).render_as_string(hide_password=True)


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None for other databases and in-memory SQLite."""
    from sqlalchemy.engine import make_url

    parsed = _guarded(lambda: make_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database)).expanduser()


def _ensure_sqlite_folder(url: str) -> None:
    """SQLite creates its file but not the folder the file is in."""
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _fail(message: str) -> NoReturn:
    line = " ".join(message.split())
    Console(stderr=True).print(Text(f"Error: {line}", style="red"), soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)
