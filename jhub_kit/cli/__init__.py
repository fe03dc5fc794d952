"""``jhub-kit``: the administrator's command line."""

from __future__ import annotations

import click

from .userlist_cmds import set_password_cmd, userlist_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jhub_kit")
def main() -> None:
    """Administer a JupyterHub that uses jhub_kit."""


@main.group("users")
def users_group() -> None:
    """Manage hub users."""


users_group.add_command(set_password_cmd)
main.add_command(userlist_group)
