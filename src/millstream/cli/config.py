"""``millstream config ...``: commands that show the effective settings (for now: ``show``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

EXIT_BAD_SETTINGS = 2

config_app = typer.Typer(help="Inspect millstream's settings.", no_args_is_help=True)


@config_app.command("show")
def show_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the settings as one JSON object.")
    ] = False,
) -> None:
    """Print the effective settings (defaults, millstream.toml, env vars), secrets masked.

    Exits 2, with one line naming the bad setting and where it came from, when the
    settings are wrong.
    """
    # Imported here so that `millstream --help` stays fast.
    from millstream.config import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        line = " ".join(str(exc).split())
        Console(stderr=True).print(Text(f"Error: {line}", style="red"), soft_wrap=True)
        raise typer.Exit(EXIT_BAD_SETTINGS) from None
    values = settings.masked()
    if as_json:
        typer.echo(json.dumps(values, indent=2))
        return
    _print_tables(values, str(settings.core.home / "millstream.toml"))


def _print_tables(values: dict[str, dict[str, Any]], file: str) -> None:
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)  # piped output: keep each setting on one line
    console.print(Text(f"settings file: {file}", style="dim"), soft_wrap=True)
    for section, settings in values.items():
        title = Text(f"[{section}]", style="bold")
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for key, value in settings.items():
            shown = "-" if value is None else json.dumps(value) if isinstance(value, bool) \
                else str(value)
            table.add_row(key, Text(shown, style="dim" if value is None else ""))
        console.print(table)
