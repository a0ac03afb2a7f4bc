"""The ``millstream`` console script: the root Typer app and its command groups."""

from __future__ import annotations

import typer

import millstream
from millstream.cli.config import config_app
from millstream.cli.dags import dags_app
from millstream.cli.db import db_app
from millstream.cli.pools import pools_app
from millstream.cli.scheduler import scheduler, standalone
from millstream.cli.tasks import tasks_app

app = typer.Typer(
    name="millstream",
    help="millstream: data pipelines as DAGs of Python tasks, scheduled, run and watched.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks with local variables can print secrets from a DAG's context.
    pretty_exceptions_show_locals=False,
)
app.add_typer(dags_app, name="dags")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(tasks_app, name="tasks")
app.add_typer(pools_app, name="pools")
app.command()(scheduler)
app.command()(standalone)


@app.command()
def version() -> None:
    """Print the installed millstream version."""
    typer.echo(f"millstream {millstream.__version__}")


def main() -> None:
    """Entry point of the ``millstream`` console script."""
    app()


if __name__ == "__main__":
    main()
