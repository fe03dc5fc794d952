"""``jhub-kit home backup|restore`` and ``jhub-kit quota report``."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from .. import resolve
from ..provision import HomeProvisioner, ProvisionError
from ..views import report
from .common import config_option, connect, hub_options, load_config


def provisioner_for(c: Any) -> HomeProvisioner:
    """The home provisioner a loaded config sets."""
    prov = resolve.provisioner_for(c)
    if prov is None:
        raise click.ClickException("the config sets no c.QuotaDockerSpawner.home_provisioner")
    return prov


def _refuse_if_in_use(prov: HomeProvisioner, username: str) -> None:
    """A home a running server has mounted is not read or written as root: stop the
    server first (its files would change under the archive, or under the student)."""
    try:
        home = str(asyncio.run(prov.home_path(username)))
    except ProvisionError:  # no home, or its disk is gone: nothing can have it mounted
        return  # (backup then says why; restore makes it)
    users = [f"a warm pool member's slot at {m}" for m in prov.in_use_here(Path(home))]
    try:
        import docker

        client = docker.from_env(version="auto", timeout=30)
        for c in client.containers.list():
            for m in c.attrs.get("Mounts") or []:
                if os.path.normpath(str(m.get("Source", ""))) == os.path.normpath(home):
                    users.append(f"container {c.name}")
    except Exception as e:  # no engine answers: no container can have it mounted
        click.echo(f"warning: the Docker engine did not answer ({e}); not checked", err=True)
    if users:
        raise click.ClickException(
            f"{username}'s home is in use ({', '.join(users)}): stop their server first "
            f"(the hub's admin page, or `curl -X DELETE -H 'Authorization: token ...' "
            f"HUB/hub/api/users/{username}/server`), then run this again"
        )


@click.group("home")
def home_group() -> None:
    """Back up and restore users' homes (run on the hub's host, as root)."""


@home_group.command("backup")
@click.argument("username")
@config_option("required")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="The archive to write. Default: NAME-home.tar.gz",
)
def backup_cmd(username: str, config_file: str, output: str | None) -> None:
    """Write USERNAME's home to a .tar.gz archive (mode 0600)."""
    prov = provisioner_for(load_config(config_file))
    dest = output or f"{username}-home.tar.gz"
    _refuse_if_in_use(prov, username.lower())
    try:
        path = asyncio.run(prov.backup(username.lower(), dest))
    except (ProvisionError, OSError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{username}'s home written to {path}")


@home_group.command("restore")
@click.argument("username")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@config_option("required")
@click.option("--force", is_flag=True, help="Unpack even if the home already holds files.")
def restore_cmd(username: str, archive: str, config_file: str, force: bool) -> None:
    """Unpack ARCHIVE into USERNAME's home; refuses a non-empty home without --force."""
    prov = provisioner_for(load_config(config_file))
    _refuse_if_in_use(prov, username.lower())
    try:
        home = asyncio.run(prov.restore(username.lower(), archive, force=force))
    except ProvisionError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{archive} restored into {home}")


@home_group.command("reset")
@click.argument("username")
@config_option("required")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_cmd(username: str, config_file: str, yes: bool) -> None:
    """Give USERNAME a fresh, empty home at their next spawn, when their home is missing.

    Only for a home whose image, volume, subvolume or logical volume is gone
    (the spawn refuses it, never re-creating it empty on its own). The old
    record is kept in the state's "retired" list. Try `home restore` first.
    """
    prov = provisioner_for(load_config(config_file))
    name = username.lower()
    if not yes:
        click.confirm(
            f"Forget {name}'s missing home, so the next spawn makes an empty one?", abort=True
        )
    try:
        record = asyncio.run(prov.reset(name))
    except ProvisionError as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        f"{name}'s missing home ({record.get('name')}) is forgotten; the next spawn makes a new one"
    )


@click.group("quota")
def quota_group() -> None:
    """Report quotas."""


@quota_group.command("report")
@config_option("required")
@hub_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
def report_cmd(config_file: str, hub_url: str, token_file: str | None, fmt: str) -> None:
    """Per user: the resolved quota, disk used / limit, and whether a server runs."""
    api = connect(hub_url, token_file, "list:users", "read:users", "read:servers")
    users = api.users()
    c = load_config(config_file)  # once: it is Python, and it runs
    prov = None
    with contextlib.suppress(click.ClickException):
        prov = provisioner_for(c)

    rows = asyncio.run(report.quota_rows(c, users, prov))
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
    elif fmt == "csv":
        out = io.StringIO()
        w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["user"])
        w.writeheader()
        w.writerows(rows)
        click.echo(out.getvalue(), nl=False)
    else:
        cols = ["user", "groups", "memory", "cpu", "pids", "disk_used", "disk_limit", "running"]
        widths = {c: max([len(c)] + [len(str(r[c])) for r in rows]) for c in cols}
        click.echo("  ".join(c.ljust(widths[c]) for c in cols))
        for r in rows:
            click.echo("  ".join(str(r[c]).ljust(widths[c]) for c in cols).rstrip())
    sys.stdout.flush()
