"""``millstream users ...``: create, list and delete the web server's users, set passwords."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from millstream.cli.common import (
    cells,
    console,
    fail,
    guarded,
    moment_text,
    open_store,
    utcnow,
    who,
)
from millstream.exceptions import NotFoundError

if TYPE_CHECKING:
    from millstream.config import Settings

users_app = typer.Typer(help="Manage the users of the web UI and REST API (admin, op, viewer).",
                        no_args_is_help=True)

UsernameArgument = Annotated[str, typer.Argument(help="The user's login name.")]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]
GenerateOption = Annotated[
    bool, typer.Option("--generate-password", help="Make up a password and print it once.")
]


def _password(from_stdin: bool, generate: bool) -> tuple[str, bool]:
    """The new password, and whether it was generated (and so must be shown)."""
    from millstream.api.accounts import check_password, generate_password

    if from_stdin and generate:
        fail("use either --password-stdin or --generate-password, not both")
    if generate:
        return generate_password(), True
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with guarded():
        check_password(password)
    return password, False


@users_app.command("create")
def create_command(
    username: UsernameArgument,
    role: Annotated[str, typer.Option("--role", help="admin, op or viewer.")] = "viewer",
    email: Annotated[str | None, typer.Option("--email", help="The user's email.")] = None,
    password_stdin: PasswordStdinOption = False,
    generate_password: GenerateOption = False,
) -> None:
    """Create a user; the password is asked for unless read from stdin or generated."""
    from millstream.api import accounts

    with guarded():
        accounts.check_username(username)
        accounts.Role.parse(role)
    password, generated = _password(password_stdin, generate_password)
    with guarded(), open_store() as store:
        record = accounts.create_user(store, username, password, role, who(), utcnow(), email)
    typer.echo(f"user {record.username} created with role {record.role}")
    if generated:
        typer.echo(f"password: {password}")


@users_app.command("set-password")
def set_password_command(
    username: UsernameArgument,
    password_stdin: PasswordStdinOption = False,
    generate_password: GenerateOption = False,
) -> None:
    """Give a user a new password."""
    from millstream.api import accounts

    with guarded(), open_store() as store:
        if store.users.get(username) is None:
            raise NotFoundError(f"no user {username!r}")
    password, generated = _password(password_stdin, generate_password)
    with guarded(), open_store() as store:
        accounts.update_user(store, username, who(), utcnow(), password=password)
    typer.echo(f"password of {username} changed")
    if generated:
        typer.echo(f"password: {password}")


@users_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the users as JSON.")] = False,
) -> None:
    """List the users with their role and last login."""
    with guarded(), open_store() as store:
        users = store.users.list(limit=store.users.count() or 1)
    if as_json:
        typer.echo(json.dumps([
            {"username": u.username, "role": u.role, "email": u.email,
             "created_at": u.created_at.isoformat(),
             "last_login": u.last_login.isoformat() if u.last_login else None}
            for u in users], indent=2))
        return
    table = Table(title="Users", title_justify="left")
    for column in ("username", "role", "email", "created", "last login"):
        table.add_column(column, no_wrap=column != "email")
    for user in users:
        table.add_row(*cells(user.username, user.role, user.email or "-",
                             moment_text(user.created_at), moment_text(user.last_login)))
    console().print(table)


@users_app.command("delete")
def delete_command(username: UsernameArgument) -> None:
    """Delete a user, with their API tokens and sessions."""
    from millstream.api import accounts

    with guarded(), open_store() as store:
        accounts.delete_user(store, username, who(), utcnow())
    typer.echo(f"user {username} deleted")


ADMIN_USERNAME = "admin"


def ensure_admin(settings: Settings) -> str | None:
    """On a database without users, create ``admin`` with a generated password and return
    the password (to be shown once); None when users exist already."""
    from millstream.api import accounts
    from millstream.cli.engine import open_sql_store

    store = open_sql_store(settings)
    try:
        with store.transaction():
            if store.users.count():
                return None
            password = accounts.generate_password()
            accounts.create_user(store, ADMIN_USERNAME, password, accounts.Role.ADMIN, who(),
                                 utcnow())
    finally:
        store.close()
        store.engine.dispose()
    return password
