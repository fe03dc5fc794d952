"""``jhub-kit firewall``: network isolation set up from the Docker host."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import click


@click.group("firewall")
def firewall_group() -> None:
    """Isolate servers on a bridge network from the Docker host (as root).

    The hub does this itself when it runs as root on the Docker host. When it
    runs in a container (example_config/, jupyterhub-deploy-docker), run
    `jhub-kit firewall watch` on the host instead.
    """


_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    (
        "--network",
        {"default": "jupyterhub-network", "help": "The servers' network (DOCKER_NETWORK_NAME)."},
    ),
    (
        "--hub-container",
        {
            "default": "jupyterhub",
            "help": "The hub's container (example_config/docker-compose.yml names it jupyterhub).",
        },
    ),
    ("--hub-port", {"default": 8081, "help": "The Hub API's port in its container."}),
]


def _options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option(
        "--allow",
        multiple=True,
        metavar="CIDR",
        help="A private address servers may still reach (repeat). Example: 10.20.0.5/32",
    )(f)
    for name, kwargs in reversed(_OPTIONS):
        f = click.option(name, show_default=True, **kwargs)(f)
    return f


def _watcher(network: str, hub_container: str, hub_port: int, allow: tuple[str, ...]) -> Any:
    import docker
    import docker.utils

    from ..network.watch import Watcher

    client = docker.APIClient(version="auto", timeout=30, **docker.utils.kwargs_from_env())
    return Watcher(client, network, hub_container, hub_port, allow)


@firewall_group.command("watch")
@_options
@click.option("--interval", default=2.0, show_default=True, help="Seconds between checks.")
@click.option("--once", is_flag=True, help="Check and set up once, then exit.")
def watch_cmd(
    network: str,
    hub_container: str,
    hub_port: int,
    allow: tuple[str, ...],
    interval: float,
    once: bool,
) -> None:
    """Keep NETWORK's servers isolated, following the network and the hub's
    container when they are re-created; remove the rules of deleted networks.

    Servers may reach the hub's API port and the internet; not each other, the
    host, the cloud metadata address or private ranges (except --allow).
    """
    from ..network import firewall
    from ..network.watch import watch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    w = _watcher(network, hub_container, hub_port, allow)
    try:
        asyncio.run(watch(w, interval=interval, once=once))
    except firewall.FirewallError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        pass


@firewall_group.command("prune")
def prune_cmd() -> None:
    """Remove the kit's rules for networks that no longer exist."""
    import docker

    from ..network import firewall
    from ..network.watch import live_bridges

    client = docker.from_env(timeout=30).api
    removed = asyncio.run(firewall.prune(live_bridges(client.networks())))
    for chain in removed:
        click.echo(f"removed {chain}")
    if not removed:
        click.echo("nothing to remove")
