"""Network isolation kept in place from the Docker host, for a hub that cannot set it
up itself: ``jhub-kit firewall watch``.

A hub in a container (jupyterhub-deploy-docker's layout, ``example_config/``)
reaches the engine through its socket but cannot change the host's iptables. The
watcher runs on the host as root (a systemd unit; see docs/reference/security.md)
and every few seconds:

- finds the servers' network and the hub's container on it, and writes the
  rules of :mod:`jhub_kit.network.firewall` for them (servers reach the hub's API port
  and the internet, nothing else; the hub reaches the servers);
- writes them again when the network or the hub's container is re-created
  (``docker compose down`` / ``up`` gives the network a new bridge, the hub a new
  address) or when someone flushed them;
- removes the kit's rules for networks that no longer exist, whoever deleted them.

The decisions are pure (:func:`isolation_for`, :func:`live_bridges`); :func:`sync`
does the I/O once, :func:`watch` loops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from .. import offloop
from . import firewall

log = logging.getLogger("jhub_kit.network.watch")


def hub_addresses(network_inspect: dict[str, Any], hub_container: str) -> tuple[str, ...]:
    """The IPv4 addresses on this network of the container named ``hub_container``
    (a name, or the start of an id)."""
    found = []
    for cid, entry in (network_inspect.get("Containers") or {}).items():
        if entry.get("Name") == hub_container or (
            len(hub_container) >= 12 and cid.startswith(hub_container)
        ):
            addr = str(entry.get("IPv4Address") or "").split("/")[0]
            if addr:
                found.append(addr)
    return tuple(sorted(found))


def isolation_for(
    network_inspect: dict[str, Any],
    hub_container: str,
    hub_port: int,
    allow: Sequence[str] = (),
    resolvers: Sequence[str] = (),
) -> firewall.Isolation:
    """The rules for servers on this network, with the hub in ``hub_container`` and
    names looked up at ``resolvers``."""
    return firewall.Isolation(
        firewall.bridge_of(network_inspect),
        (hub_port,),
        tuple(allow),
        hub_addresses=hub_addresses(network_inspect, hub_container),
        resolvers=tuple(resolvers),
    )


def live_bridges(networks: Sequence[dict[str, Any]]) -> list[str]:
    """The bridge interfaces of the engine's bridge networks (``docker network ls``
    as the API lists them)."""
    return [firewall.bridge_of(n) for n in networks if n.get("Driver") == "bridge"]


class Watcher:
    """One network's isolation, kept in place by :meth:`sync`."""

    def __init__(
        self,
        client: Any,
        network: str,
        hub_container: str,
        hub_port: int = 8081,
        allow: Sequence[str] = (),
    ) -> None:
        self.client = client  # a docker.APIClient
        self.network = network
        self.hub_container = hub_container
        self.hub_port = hub_port
        self.allow = tuple(allow)
        self.applied: firewall.Isolation | None = None

    async def sync(self) -> list[str]:
        """Bring the rules in line with what exists now; returns what changed, as
        lines for the log (empty when nothing did)."""
        import docker.errors

        changes = []
        networks = await offloop.run_io(self.client.networks)
        removed = await firewall.prune(live_bridges(networks))
        changes += [f"removed {chain} (its network is gone)" for chain in removed]
        try:
            info = await offloop.run_io(self.client.inspect_network, self.network)
        except docker.errors.NotFound:
            if self.applied is not None:
                changes.append(f"network {self.network!r} is gone; waiting for it to return")
            self.applied = None
            return changes
        iso = isolation_for(
            info,
            self.hub_container,
            self.hub_port,
            self.allow,
            firewall.resolvers(firewall.host_resolv_conf()),
        )
        if iso != self.applied or not await firewall.present(iso):
            await firewall.apply(iso)
            self.applied = iso
            where = (
                f"the hub at {', '.join(iso.hub_addresses)}"
                if iso.hub_addresses
                else f"no container {self.hub_container!r} on it yet: servers reach nothing"
            )
            changes.append(f"isolated {self.network!r} ({iso.bridge}, {where})")
        return changes


async def watch(watcher: Watcher, interval: float = 2.0, once: bool = False) -> None:
    """:meth:`Watcher.sync` every ``interval`` seconds (once, with ``once``); an
    engine that does not answer is waited for."""
    while True:
        try:
            for line in await watcher.sync():
                log.info("%s", line)
        except firewall.FirewallError:
            raise
        except Exception as e:  # the engine restarting: try again next round
            if once:
                raise
            log.warning("cannot check network %r now: %s", watcher.network, e)
        if once:
            return
        await asyncio.sleep(interval)
