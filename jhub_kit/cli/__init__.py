"""``jhub-kit``: the administrator's command line."""

from __future__ import annotations

from typing import Any

import click

from ..hubapi import HubAPIError
from ..provision import ProvisionError
from .class_cmds import class_group
from .config_cmds import config_group
from .course_cmds import course_group
from .doctor_cmd import doctor_cmd
from .firewall_cmds import firewall_group
from .home_cmds import home_group, quota_group
from .pool_cmds import pool_group
from .server_cmds import server_group
from .userlist_cmds import set_password_cmd, userlist_group
from .users_cmds import import_cmd, remove_cmd


class KitGroup(click.Group):
    """Turns the kit's expected failures into one-line errors (exit 1), never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (HubAPIError, ProvisionError) as e:
            raise click.ClickException(str(e)) from None


def _versions() -> str:
    """The kit's version and the versions it runs with (for a bug report)."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import __version__

    parts = []
    for name in ("jupyterhub", "dockerspawner", "traitlets"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} missing")
    return f"jhub-kit {__version__} ({', '.join(parts)})"


def _print_version(ctx: click.Context, _param: Any, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_versions())
        ctx.exit()


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the kit's version and JupyterHub's, DockerSpawner's, and exit.",
)
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
main.add_command(course_group)
main.add_command(server_group)
main.add_command(class_group)
