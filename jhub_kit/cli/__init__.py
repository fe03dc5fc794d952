"""``jhub-kit``: the administrator's command line."""

from __future__ import annotations

from typing import Any

import click

from ..hubapi import HubAPIError
from ..provision import ProvisionError
from .config_cmds import config_group
from .doctor_cmd import doctor_cmd
from .firewall_cmds import firewall_group
from .home_cmds import home_group, quota_group
from .pool_cmds import pool_group
from .userlist_cmds import set_password_cmd, userlist_group
from .users_cmds import import_cmd, remove_cmd


class KitGroup(click.Group):
    """Turns the kit's expected failures into one-line errors (exit 1), never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (HubAPIError, ProvisionError) as e:
            raise click.ClickException(str(e)) from None


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jhub_kit")
def main() -> None:
    """Administer a JupyterHub that uses jhub_kit."""


@main.group("users")
def users_group() -> None:
    """Manage hub users."""


users_group.add_command(set_password_cmd)
users_group.add_command(import_cmd)
users_group.add_command(remove_cmd)
main.add_command(home_group)
main.add_command(doctor_cmd)
main.add_command(quota_group)
main.add_command(userlist_group)
main.add_command(config_group)
main.add_command(firewall_group)
main.add_command(pool_group)
