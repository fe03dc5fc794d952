"""``jhub-kit userlist check`` and ``jhub-kit users set-password``."""

from __future__ import annotations

import secrets
import sys

import click

from ..auth.userlist import UserlistError, UserlistFile
from ..provision.systemuser import existing_accounts

DB_URL_HELP = "The hub database (as c.JupyterHub.db_url). [env: JUPYTERHUB_DB_URL]"


@click.group("userlist")
def userlist_group() -> None:
    """Check userlist files."""


@userlist_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def check_cmd(path: str) -> None:
    """Parse PATH as the hub would and summarize it; exit 1 with the errors if broken."""
    try:
        ul = UserlistFile(path).load()
    except UserlistError as e:
        click.echo(str(e), err=True)
        sys.exit(1)
    for w in ul.warnings:
        click.echo(f"warning: {w}", err=True)
    found = existing_accounts(list(ul.users))
    if found:
        listed = ", ".join(f"{n} (uid {u})" for n, u in sorted(found.items()))
        click.echo(
            f"warning: system accounts of this machine: {listed}; the system-user home "
            "provisioner refuses them",
            err=True,
        )
    groups = ul.groups
    click.echo(f"{len(ul.users)} users, {len(ul.admins)} admins, {len(groups)} groups")
    if ul.admins:
        click.echo("admins: " + ", ".join(sorted(ul.admins)))
    for g in sorted(groups):
        click.echo(f"group {g}: {len(groups[g])} members")


@click.command("set-password")
@click.argument("username")
@click.option(
    "--db-url",
    envvar="JUPYTERHUB_DB_URL",
    default="sqlite:///jupyterhub.sqlite",
    show_default=True,
    help=DB_URL_HELP,
)
@click.option("--generate", is_flag=True, help="Generate a strong password and print it once.")
def set_password_cmd(username: str, db_url: str, generate: bool) -> None:
    """Set USERNAME's NativeAuthenticator password and authorize the account.

    This is how a userlist admin gets an account: the sign-up form refuses
    admin names, so nobody can claim them first. The password is read from
    the terminal (or standard input), never from the command line.
    """
    from jupyterhub import orm
    from sqlalchemy import create_engine, inspect

    from ..auth.native import set_password

    name = username.lower()
    if generate:
        password = secrets.token_urlsafe(15)
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        raise click.UsageError("the password must have at least 8 characters")
    # look before opening: opening a session creates any missing table
    tables = set(inspect(create_engine(db_url)).get_table_names())
    if "users" not in tables:
        raise click.ClickException(
            f"{db_url} is not a JupyterHub database (no users table); pass the hub's --db-url"
        )
    if "users_info" not in tables:
        raise click.ClickException(
            f"{db_url} has no NativeAuthenticator table: start the hub once with "
            "c.JupyterHub.authenticator_class = 'userlist-native'"
        )
    db = orm.new_session_factory(db_url)()
    created = set_password(db, name, password)
    click.echo(f"{'created' if created else 'updated'} {name}: password set, account authorized")
    if generate:
        click.echo(f"password: {password}")
