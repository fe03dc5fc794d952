"""``jhub-kit class``: a teacher's actions from the command line, with their own token.

The same endpoints as the class dashboard's buttons
(:mod:`jhub_kit.views.dashboard.actions`), so the same rules: the service checks
the token's scopes on every request (a teacher acts on the groups they teach,
an admin on everyone), writes the policy file and keeps the record. The token
goes in the ``Authorization`` header, never on the command line.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import click
import requests

from ..hubapi import HubAPIError, read_token
from ..views.dashboard import SERVICE_NAME
from .common import hub_options


def _post(hub_url: str, token_file: str | None, path: str, body: dict[str, Any]) -> Any:
    url = f"{hub_url.rstrip('/')}/services/{SERVICE_NAME}/api/{path}"
    headers = {"Authorization": f"token {read_token(token_file)}"}
    try:
        r = requests.post(url, json=body, headers=headers, timeout=60, allow_redirects=False)
    except requests.RequestException as e:
        raise HubAPIError(f"cannot reach the class dashboard at {url}: {e}") from None
    try:
        answer = r.json()
    except ValueError:
        answer = {"message": r.text[:300]}
    if r.status_code != 200:
        message = answer.get("message") if isinstance(answer, dict) else None
        raise HubAPIError(f"{path}: {r.status_code} {message or r.reason}", r.status_code)
    return answer


@click.group("class")
def class_group() -> None:
    """A teacher's actions on the students they teach (stop, start, limits, extend)."""


@class_group.command("stop")
@click.argument("user")
@hub_options
def stop_cmd(user: str, hub_url: str, token_file: str | None) -> None:
    """Stop USER's server."""
    _post(hub_url, token_file, f"users/{quote(user, safe='')}/stop", {})
    click.echo(f"stopping {user}'s server")


@class_group.command("start")
@click.argument("user")
@hub_options
def start_cmd(user: str, hub_url: str, token_file: str | None) -> None:
    """Start USER's server."""
    _post(hub_url, token_file, f"users/{quote(user, safe='')}/start", {})
    click.echo(f"starting {user}'s server")


@class_group.command("limits")
@click.argument("name")
@click.option("--group", "is_group", is_flag=True, help="NAME is a group: set its limits.")
@click.option("--memory", help='Memory limit, e.g. "1G" ("" removes the override).')
@click.option("--cpu", help='CPU limit in cores, e.g. "2" ("" removes the override).')
@click.option("--disk", help='Home size, e.g. "5G" ("" removes the override).')
@click.option(
    "--idle", help='Time idle before the idle culler stops it, e.g. "3h" ("" removes it).'
)
@hub_options
def limits_cmd(
    name: str,
    is_group: bool,
    memory: str | None,
    cpu: str | None,
    disk: str | None,
    idle: str | None,
    hub_url: str,
    token_file: str | None,
) -> None:
    """Raise or lower NAME's limits (a user, or a group with --group), within the
    ceiling the admin set; effective at the next start of each server."""
    wanted = {
        key: (value or None)
        for key, value in (
            ("mem_limit", memory),
            ("cpu_limit", cpu),
            ("disk_limit", disk),
            ("idle_timeout", idle),
        )
        if value is not None
    }
    if not wanted:
        raise click.UsageError("give --memory, --cpu, --disk or --idle")
    kind = "groups" if is_group else "users"
    answer = _post(hub_url, token_file, f"{kind}/{quote(name, safe='')}/limits", wanted)
    changes = answer.get("changes") or []
    for ch in changes:
        click.echo(
            f"{ch['target']} {ch['limit']}: {json.dumps(ch['old'])} -> {json.dumps(ch['new'])}"
        )
    if not changes:
        click.echo("nothing changed")
    else:
        click.echo(f"effective {answer.get('effective', 'at the next start')}")


@class_group.command("extend")
@click.argument("name")
@click.option("--group", "is_group", is_flag=True, help="NAME is a group: each of its members.")
@hub_options
def extend_cmd(name: str, is_group: bool, hub_url: str, token_file: str | None) -> None:
    """Give NAME (a user, or each member of a group with --group) more idle time for
    today: the idle culler leaves their servers alone until midnight, the hub's
    local time (their maximum age still holds)."""
    kind = "groups" if is_group else "users"
    answer = _post(hub_url, token_file, f"{kind}/{quote(name, safe='')}/extend", {})
    users = ", ".join(answer.get("users") or [])
    click.echo(f"{answer.get('target')}: not stopped for being idle until {answer.get('until')}")
    click.echo(f"({users})")
