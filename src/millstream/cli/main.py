"""The ``millstream`` console script: the root Typer app and its command groups."""

from __future__ import annotations

import os
import sys
from typing import Annotated, NoReturn

import typer

# Typer bundles its own copy of Click: its exceptions are these, not the click package's.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

import millstream
from millstream.cli.assets import assets_app
from millstream.cli.common import EXIT_BAD_INPUT, print_error
from millstream.cli.config import config_app
from millstream.cli.connections import connections_app
from millstream.cli.dags import dags_app
from millstream.cli.dags_check import check_command
from millstream.cli.db import db_app
from millstream.cli.pools import pools_app
from millstream.cli.scheduler import scheduler, standalone
from millstream.cli.tasks import tasks_app
from millstream.cli.tokens import tokens_app
from millstream.cli.triggerer import triggerer
from millstream.cli.users import users_app
from millstream.cli.variables import variables_app
from millstream.cli.webserver import webserver
from millstream.cli.worker import worker

app = typer.Typer(
    name="millstream",
    help="millstream: data pipelines as DAGs of Python tasks, scheduled, run and watched.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks with local variables can print secrets from a DAG's context.
    pretty_exceptions_show_locals=False,
)
AIRFLOW_COMPAT_FLAG = "--airflow-compat"


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"millstream {millstream.__version__}")
        raise typer.Exit()


@app.callback()
def root_options(
    _version: Annotated[bool, typer.Option(
        "--version", is_eager=True, callback=_print_version,
        help="Print the installed millstream version and exit.")] = False,
    airflow_compat: Annotated[bool, typer.Option(
        AIRFLOW_COMPAT_FLAG,
        help="Load Airflow DAG files (`from airflow import DAG` ...) through millstream's "
        "Airflow compatibility layer: sets compat.airflow = true for this command and "
        "every process it starts.",
    )] = False,
) -> None:
    """millstream: data pipelines as DAGs of Python tasks, scheduled, run and watched."""
    if airflow_compat:
        from millstream.compat.airflow import ENV_VAR, AirflowCompatError, enable

        # Child processes (parsing workers, the fork server, callbacks) read it from here.
        os.environ[ENV_VAR] = "true"
        try:
            enable()
        except AirflowCompatError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(2) from None


dags_app.command("check")(check_command)
app.add_typer(dags_app, name="dags")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(tasks_app, name="tasks")
app.add_typer(pools_app, name="pools")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(connections_app, name="connections")
app.add_typer(variables_app, name="variables")
app.add_typer(assets_app, name="assets")
app.command()(scheduler)
app.command()(standalone)
app.command()(webserver)
app.command()(worker)
app.command()(triggerer)


@app.command()
def version() -> None:
    """Print the installed millstream version."""
    typer.echo(f"millstream {millstream.__version__}")


def main() -> None:
    """Entry point of the ``millstream`` console script."""
    args = sys.argv[1:]
    if AIRFLOW_COMPAT_FLAG in args[1:]:
        # A root option, also accepted after the command: `millstream dags test --airflow-compat`
        args.remove(AIRFLOW_COMPAT_FLAG)
        args.insert(0, AIRFLOW_COMPAT_FLAG)
    try:
        result = app(args=args, prog_name="millstream", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()  # the command's help, as for --help
        sys.exit(EXIT_BAD_INPUT)
    except UsageError as exc:
        fail_usage(exc)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    # Without standalone mode an Exit raised by a command comes back as its exit code.
    sys.exit(result if isinstance(result, int) else 0)


def fail_usage(error: UsageError) -> NoReturn:
    """A usage error as one line, like every other bad input: what is wrong, then where to
    read the usage; exit code 2."""
    where = error.ctx.command_path if error.ctx is not None else "millstream"
    print_error(f"{error.format_message().rstrip()} (see `{where} --help`)")
    sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
