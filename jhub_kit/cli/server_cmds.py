"""``jhub-kit server inspect``: a user's server as the engine runs it.

A server's container is not always named after its user: one from the warm pool
keeps the pool member's name (``<prefix>-pool-<id>``). The hub knows which
container is whose (the server's state: ``object_id``, ``object_name``), so this
asks the hub (REST API, ``admin:server_state``), then the engine on this host
(``docker inspect``), and prints the limits the container really has beside the
quota the kit gave it.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ..quota.docker_limits import INSPECT_FIELDS, host_config_limits, limits_differ
from ..quota.policy import Quota, format_size, read_kit_state
from .common import connect, hub_options

#: what the command needs of the hub: the user's model, their server's state
SCOPES = ("read:users", "read:servers", "admin:server_state")


@click.group("server")
def server_group() -> None:
    """See users' servers as the Docker engine runs them (run on the hub's host)."""


def engine_limits(host_config: dict[str, Any]) -> dict[str, str]:
    """A container's ``HostConfig`` limits in words: memory, swap, CPU, processes."""
    memory = host_config.get("Memory") or 0
    swap = host_config.get("MemorySwap") or 0
    quota, period = host_config.get("CpuQuota") or 0, host_config.get("CpuPeriod") or 0
    nano = host_config.get("NanoCpus") or 0
    pids = host_config.get("PidsLimit") or 0
    if quota and period:
        cpu = f"{quota / period:g}"
    elif nano:
        cpu = f"{nano / 1e9:g}"
    else:
        cpu = "unlimited"
    if not memory or swap == -1:
        swap_text = "unlimited" if memory else "-"
    else:
        swap_text = "none" if swap == memory else format_size(max(0, swap - memory))
    return {
        "memory": format_size(memory) if memory else "unlimited",
        "swap": swap_text,
        "cpu": cpu,
        "pids": str(pids) if pids > 0 else "unlimited",
    }


def _server_of(api: Any, user: str, server_name: str) -> dict[str, Any]:
    model = api.user(user)
    if model is None:
        raise click.ClickException(f"the hub has no user {user!r}")
    label = f"{user}'s server" + (f" {server_name!r}" if server_name else "")
    server = (model.get("servers") or {}).get(server_name)
    if not server:
        raise click.ClickException(f"{label} is not running")
    if server.get("state") is None:
        raise click.ClickException(
            "the hub did not give the server's state: the token lacks admin:server_state"
        )
    return dict(server)


@server_group.command("inspect")
@click.argument("user")
@click.option(
    "--server", "server_name", default="", help="A named server (default: the default one)."
)
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@hub_options
def inspect_cmd(
    user: str, server_name: str, as_json: bool, hub_url: str, token_file: str | None
) -> None:
    """USER's server: its container (a warm pool member's name, or the usual one), the
    limits the engine enforces and whether they are the kit's quota. Needs a token
    with read:users, read:servers and admin:server_state (an admin's), and the
    Docker engine the hub starts servers on."""
    api = connect(hub_url, token_file, *SCOPES)
    server = _server_of(api, user, server_name)
    state = server["state"] or {}
    kit = read_kit_state(state)
    object_id = state.get("object_id") or state.get("container_id") or ""
    if not object_id:
        raise click.ClickException(f"the hub holds no container of {user} (is it starting?)")
    import docker

    try:
        inspected = docker.from_env(timeout=30).api.inspect_container(object_id)
    except docker.errors.NotFound:
        raise click.ClickException(
            f"container {object_id[:12]} is not on this host's engine "
            "(a swarm's server runs as a service: docker service inspect)"
        ) from None
    except docker.errors.DockerException as e:
        raise click.ClickException(f"cannot ask the Docker engine: {e}") from None
    host_config = inspected.get("HostConfig") or {}
    quota = Quota.from_state(kit["quota"]) if kit.get("quota") else None
    differs = (
        limits_differ(
            host_config, host_config_limits(quota, cpu_period=host_config.get("CpuPeriod") or 0)
        )
        if quota is not None
        else []
    )
    name = str(inspected.get("Name", "")).lstrip("/")
    out = {
        "user": user,
        "server": server_name,
        "container": name,
        "id": inspected.get("Id", object_id),
        "status": (inspected.get("State") or {}).get("Status", ""),
        "pool_member": kit.get("pool_member", ""),
        "limits": engine_limits(host_config),
        "host_config": {field: host_config.get(field) for field in [*INSPECT_FIELDS, "NanoCpus"]},
        "quota": None if quota is None else quota.describe(),
        "differs": differs,
    }
    if as_json:
        click.echo(json.dumps(out, indent=1))
        return
    origin = "from the warm pool" if out["pool_member"] else "started for them"
    label = f"{user}'s server" + (f" {server_name!r}" if server_name else "")
    click.echo(f"{label}: container {name} ({out['id'][:12]}, {out['status']}), {origin}")
    limits = out["limits"]
    click.echo(f"  memory  {limits['memory']}   swap {limits['swap']}")
    click.echo(f"  cpu     {limits['cpu']}")
    click.echo(f"  pids    {limits['pids']}")
    if quota is None:
        click.echo("The hub holds no quota for this server.")
    elif differs:
        click.echo(f"The container's limits differ from the quota ({out['quota']}):")
        for d in differs:
            click.echo(f"  {d}")
    else:
        click.echo(f"These are the kit's quota: {out['quota']}.")
    click.echo(f"Docker's own view: docker inspect {name}")
