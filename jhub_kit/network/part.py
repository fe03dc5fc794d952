"""The network's part of a start: the Hub API's address for the servers, and the
isolation rules of their bridge network.

A part, not a mixin: :class:`~jhub_kit.QuotaDockerSpawner` makes one and calls it
before each start, cold or pooled (``prepare_network``), with the options as they
are for this start (:class:`jhub_kit.network.mixin.NetworkMixin`'s traits) passed
in; the part is given the engine (``docker``: DockerSpawner's executor-wrapped
call) and nothing else of the spawner. The decisions are pure functions of
:mod:`.firewall` and :mod:`.hub_address`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from .. import registry
from ..compat import admin_must_fix
from . import firewall
from . import hub_address as address
from . import watch as firewall_watch


def _isolated() -> set[firewall.Isolation]:
    """The networks whose rules this process has set up (re-checked at every start)."""
    found: set[firewall.Isolation] = registry.shared("network-isolated", None, set)
    return found


def _lifted() -> set[str]:
    """The networks whose old rules this process has looked for (``network_isolation``
    off), once each."""
    found: set[str] = registry.shared("network-lifted", None, set)
    return found


def _warned() -> set[str]:
    """The network warnings this process has logged (each once)."""
    found: set[str] = registry.shared("network-warned", None, set)
    return found


class NetworkPart:
    """The servers' network, as one spawner's starts need it."""

    def __init__(
        self,
        *,
        docker: Callable[..., Awaitable[Any]],
        executor: Executor,
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.docker = docker
        self.executor = executor
        self.log = log

    # -- isolation -----------------------------------------------------------

    async def isolate(
        self,
        network_name: str,
        *,
        on: bool,
        hub_port: int,
        allow: Sequence[str],
        configured_dns: Callable[[], Awaitable[list[str]]],
    ) -> None:
        """Make sure the isolation rules of ``network_name`` are in place (every
        start, cold or pooled: a rule flushed by someone else is put back); with
        ``on`` False, the kit's rules from a time it was on are removed. The servers
        may reach the Hub at ``hub_port``, the addresses ``allow``, and the DNS
        servers the host and ``configured_dns()`` (``extra_host_config``'s) name."""
        if network_name in ("host", "none"):
            return
        if not on:
            await self._lift(network_name)
            return
        info = await self.docker("inspect_network", network_name)
        if info.get("Driver") != "bridge" or info.get("Name") == "bridge":
            self._warn_once(
                f"servers on network {network_name!r} are NOT isolated: the kit isolates "
                "its own user-defined bridge networks only (Docker's default bridge is shared "
                "with every other container); create one, e.g. `docker network create "
                "jupyterhub-network`, and set c.QuotaDockerSpawner.network_name"
            )
            return
        dns = await configured_dns()
        if info.get("EnableIPv6"):
            admin_must_fix(
                self.log,
                "The server's network could not be secured; an administrator has been told.",
                f"network {network_name!r} has IPv6 enabled, and the kit's isolation "
                "rules are IPv4 only: a server could reach other servers and the host over "
                "IPv6. Create the network without --ipv6, or set "
                "c.QuotaDockerSpawner.network_isolation = False and firewall it yourself",
                reason="network_isolation",
            )
        iso = firewall.Isolation(
            firewall.bridge_of(info),
            (hub_port,),
            tuple(allow),
            resolvers=firewall.resolvers(firewall.host_resolv_conf(), dns),
        )
        facts = address.NetworkFacts.from_inspect(info)
        local = await asyncio.wrap_future(self.executor.submit(address.local_ipv4_addresses))
        if os.geteuid() != 0 or facts.gateway not in local:
            self._warn_once(
                f"servers on network {network_name!r} are NOT isolated from each other "
                "and the host's services: the kit sets this up only when the hub runs as root "
                "on the Docker host. Run `jhub-kit firewall watch --network "
                f"{network_name} --hub-container NAME` as root on the Docker host "
                "(`jhub-kit doctor` prints the rules)"
            )
            return
        if iso not in _isolated() or not await firewall.present(iso):
            try:
                # rules left for networks deleted since (by the kit or anyone): gone too
                networks = await self.docker("networks")
                for chain in await firewall.prune(firewall_watch.live_bridges(networks)):
                    self.log.info("Removed %s: its network no longer exists", chain)
                await firewall.apply(iso)
            except firewall.FirewallError as e:
                admin_must_fix(
                    self.log,
                    "The server's network could not be secured; an administrator has been told.",
                    str(e),
                    reason="network_isolation",
                )
            _isolated().add(iso)
            self.log.info("Network isolation set up: %s", firewall.describe(iso))

    async def _lift(self, network_name: str) -> None:
        """``network_isolation = False``: the kit's rules for this network, from a time
        it was on, are removed (once per network and process), not left to block."""
        if network_name in _lifted() or os.geteuid() != 0:
            return
        _lifted().add(network_name)
        try:
            info = await self.docker("inspect_network", network_name)
        except Exception:  # no such network yet: no rules for it either
            return
        if info.get("Driver") != "bridge":
            return
        iso = firewall.Isolation(firewall.bridge_of(info), ())
        listing = await firewall.listing()
        if any(chain in firewall.kit_chains(listing) for chain in firewall.rules(iso)):
            await firewall.remove(iso)
            _isolated().discard(iso)
            self.log.info("network_isolation is off: removed the kit's rules for %s", network_name)

    def _warn_once(self, message: str) -> None:
        warned = _warned()
        if message not in warned:
            warned.add(message)
            self.log.warning(message)

    # -- the Hub API's address -----------------------------------------------

    async def hub_url(self, network_name: str, hub: Any, *, explicit: bool) -> str | None:
        """The Hub URL the servers on ``network_name`` should use, worked out (see
        :mod:`.hub_address`: from the ``hub``'s own addresses and the network's);
        ``explicit``: the configuration already says how to reach the hub."""
        facts: address.NetworkFacts | None = None
        local: set[str] = set()
        if not explicit:
            local = await asyncio.wrap_future(self.executor.submit(address.local_ipv4_addresses))
            try:
                facts = address.NetworkFacts.from_inspect(
                    await self.docker("inspect_network", network_name)
                )
            except Exception as e:
                self.log.warning("Cannot inspect Docker network %r: %s", network_name, e)
        try:
            return address.hub_url_for_containers(
                hub_ip=hub.ip,
                hub_port=hub.port,
                network_name=network_name,
                explicit=explicit,
                local_addresses=local,
                network=facts,
            )
        except address.HubUnreachable as e:
            admin_must_fix(
                self.log,
                "The server cannot reach the Hub; an administrator must fix the configuration.",
                str(e),
                reason="hub_unreachable",
            )
