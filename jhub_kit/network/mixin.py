"""The spawner's side of the network: secure container defaults, isolation rules
on a bridge network, and the Hub API's address for containers.

A mixin for :class:`~jhub_kit.QuotaDockerSpawner` (it needs DockerSpawner's
``docker()``, ``network_name``, ``image`` and ``hub``); the decisions are pure
functions of :mod:`.hardening`, :mod:`.firewall` and :mod:`.hub_address`.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from typing import TYPE_CHECKING, Any

from traitlets import Bool, List, Unicode, Union

from ..compat import admin_must_fix
from . import firewall, hardening
from . import hub_address as address
from . import watch as firewall_watch

if TYPE_CHECKING:
    from dockerspawner import DockerSpawner as _Base
else:
    from traitlets.config import LoggingConfigurable as _Base

#: networks whose rules this process has set up (re-checked at every start)
_ISOLATED: set[firewall.Isolation] = set()
_WARNED: set[str] = set()
_LIFTED: set[str] = set()


class HardeningMixin(_Base):
    """The secure container defaults (:mod:`.hardening`), for any kit spawner: the
    traits, and the host-config keywords they give for one server."""

    no_new_privileges = Bool(
        True,
        help="""Start servers with ``no-new-privileges``: a setuid binary (sudo, a
        planted copy of a shell) does not make its caller root. Turn off only for
        images whose users must ``sudo``. Example: ``False``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    cap_drop = List(
        Unicode(),
        default_value=["ALL"],
        help="""Linux capabilities removed from every server (Docker keeps 14 by
        default: NET_RAW, MKNOD, SETFCAP...). Example: ``[]`` for Docker's defaults.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    cap_add = Union(
        [List(Unicode()), Unicode()],
        default_value="auto",
        help="""Capabilities given back after :attr:`cap_drop`. ``"auto"``: none for
        an image that starts as a user (uid 1000), and CHOWN, DAC_OVERRIDE, FOWNER,
        SETUID, SETGID for one that starts as root and switches user (the Jupyter
        Docker Stacks with ``extra_create_kwargs = {"user": "root"}``).
        Example: ``["CHOWN", "SETUID", "SETGID"]``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    async def _create_user(self) -> str | None:
        """The ``user`` the server is created with, if the config sets one."""
        kwargs = self._eval_if_callable(self.extra_create_kwargs)
        if inspect.isawaitable(kwargs):
            kwargs = await kwargs
        if isinstance(kwargs, dict) and "user" in kwargs:
            return str(kwargs["user"])
        return None

    async def starts_as_root(self, create_user: str | None = None) -> bool:
        """Whether the server starts as root: its create kwargs' ``user``, else the
        image's ``User``."""
        if create_user is None:
            create_user = await self._create_user()
        if create_user is not None:
            return hardening.starts_as_root(create_user)
        return hardening.starts_as_root((await self.image_config()).get("User"))

    async def image_config(self) -> dict[str, Any]:
        """The image's ``Config`` (its ``Cmd``, ``User``, ...), asked of the engine once
        per start: a description reads it twice and a pooled start describes the server
        three times. :meth:`forget_image` (called as each start begins) drops it, so an
        image rebuilt under the same tag is seen at the next start."""
        cache: dict[str, dict[str, Any]] = self.__dict__.setdefault("_kit_image_config", {})
        image = str(self.image)
        if image not in cache:
            inspected = await self.docker("inspect_image", image)
            cache[image] = dict(inspected.get("Config") or {})
        return cache[image]

    def forget_image(self) -> None:
        """Forget what :meth:`image_config` read (the next call asks the engine)."""
        self.__dict__.pop("_kit_image_config", None)

    async def pull_image(self, image: str) -> None:
        """DockerSpawner's pull; a pulled image may have another ``Cmd`` or ``User``."""
        await super().pull_image(image)
        self.forget_image()

    async def security_host_config(self, create_user: str | None = None) -> dict[str, Any]:
        """The secure defaults as host-config keywords (:mod:`.hardening`)."""
        cap_add = None if self.cap_add == "auto" else list(self.cap_add)
        return hardening.host_config_security(
            no_new_privileges=self.no_new_privileges,
            cap_drop=self.cap_drop,
            cap_add=cap_add,
            root_start=await self.starts_as_root(create_user) if cap_add is None else False,
        )


class NetworkMixin(HardeningMixin):
    """Secure defaults, network isolation and the Hub address, for one spawner."""

    # -- isolation -----------------------------------------------------------

    network_isolation = Bool(
        True,
        help="""On a bridge network, let servers open connections only to the Hub API
        and the internet: not to each other, not to the host's other services, not to
        the cloud metadata address or private ranges (see :mod:`jhub_kit.network.firewall`).

        Set up with iptables at the first spawn on a network, where the hub runs as
        root on the Docker host; elsewhere a warning says so and ``jhub-kit doctor``
        prints the rules to add. Example: ``False`` to manage the firewall yourself.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    network_isolation_allow = List(
        Unicode(),
        help="""Addresses (CIDR) in private ranges that servers may still reach, e.g. a
        campus package mirror or database. Example: ``["10.20.0.5/32"]``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    async def isolate_network(self) -> None:
        """Make sure the isolation rules of the servers' network are in place (every
        start, cold or pooled: a rule flushed by someone else is put back)."""
        if self.network_name in ("host", "none"):
            return
        if not self.network_isolation:
            await self._lift_isolation()
            return
        info = await self.docker("inspect_network", self.network_name)
        if info.get("Driver") != "bridge" or info.get("Name") == "bridge":
            self._warn_once(
                f"servers on network {self.network_name!r} are NOT isolated: the kit isolates "
                "its own user-defined bridge networks only (Docker's default bridge is shared "
                "with every other container); create one, e.g. `docker network create "
                "jupyterhub-network`, and set c.QuotaDockerSpawner.network_name"
            )
            return
        ehc = await self.evaluated_extra_host_config()
        configured_dns = [str(a) for a in (ehc.get("dns") or [])]
        if info.get("EnableIPv6"):
            admin_must_fix(
                self.log,
                "The server's network could not be secured; an administrator has been told.",
                f"network {self.network_name!r} has IPv6 enabled, and the kit's isolation "
                "rules are IPv4 only: a server could reach other servers and the host over "
                "IPv6. Create the network without --ipv6, or set "
                "c.QuotaDockerSpawner.network_isolation = False and firewall it yourself",
                reason="network_isolation",
            )
        iso = firewall.Isolation(
            firewall.bridge_of(info),
            (self.hub.port,),
            tuple(self.network_isolation_allow),
            resolvers=firewall.resolvers(firewall.host_resolv_conf(), configured_dns),
        )
        facts = address.NetworkFacts.from_inspect(info)
        local = await asyncio.wrap_future(self.executor.submit(address.local_ipv4_addresses))
        if os.geteuid() != 0 or facts.gateway not in local:
            self._warn_once(
                f"servers on network {self.network_name!r} are NOT isolated from each other "
                "and the host's services: the kit sets this up only when the hub runs as root "
                "on the Docker host. Run `jhub-kit firewall watch --network "
                f"{self.network_name} --hub-container NAME` as root on the Docker host "
                "(`jhub-kit doctor` prints the rules)"
            )
            return
        if iso not in _ISOLATED or not await firewall.present(iso):
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
            _ISOLATED.add(iso)
            self.log.info("Network isolation set up: %s", firewall.describe(iso))

    async def _lift_isolation(self) -> None:
        """``network_isolation = False``: the kit's rules for this network, from a time
        it was on, are removed (once per network and process), not left to block."""
        if self.network_name in _LIFTED or os.geteuid() != 0:
            return
        _LIFTED.add(self.network_name)
        try:
            info = await self.docker("inspect_network", self.network_name)
        except Exception:  # no such network yet: no rules for it either
            return
        if info.get("Driver") != "bridge":
            return
        iso = firewall.Isolation(firewall.bridge_of(info), ())
        listing = await firewall.listing()
        if any(chain in firewall.kit_chains(listing) for chain in firewall.rules(iso)):
            await firewall.remove(iso)
            _ISOLATED.discard(iso)
            self.log.info(
                "network_isolation is off: removed the kit's rules for %s", self.network_name
            )

    def _warn_once(self, message: str) -> None:
        if message not in _WARNED:
            _WARNED.add(message)
            self.log.warning(message)

    # -- the Hub API's address -----------------------------------------------

    hub_connect_auto = Bool(
        True,
        help="""Work out how containers reach the Hub API when nothing says so.

        On a bridge network, with ``JupyterHub.hub_connect_ip`` and
        ``Spawner.hub_connect_url`` unset and the Hub on this host listening on all
        interfaces, containers are pointed at the network's gateway address. If the
        Hub listens only on 127.0.0.1, which containers cannot reach, the spawn fails
        with a message saying what to set. Set to False to keep JupyterHub's default.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    async def hub_connect_url_for_containers(self) -> str | None:
        """The Hub URL containers should use, when it must be worked out (see
        :mod:`.hub_address`: from the hub's own addresses and the network's)."""
        if not self.hub_connect_auto or self.network_name == "host":
            return None
        explicit = bool(
            self.hub_connect_url or self.hub.connect_ip or getattr(self.hub, "connect_url", "")
        )
        facts: address.NetworkFacts | None = None
        local: set[str] = set()
        if not explicit:
            local = await asyncio.wrap_future(self.executor.submit(address.local_ipv4_addresses))
            try:
                facts = address.NetworkFacts.from_inspect(
                    await self.docker("inspect_network", self.network_name)
                )
            except Exception as e:
                self.log.warning("Cannot inspect Docker network %r: %s", self.network_name, e)
        try:
            return address.hub_url_for_containers(
                hub_ip=self.hub.ip,
                hub_port=self.hub.port,
                network_name=self.network_name,
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

    async def prepare_network(self) -> None:
        """Before a start (cold or pooled): the Hub URL the server is given, and the
        network's isolation rules."""
        if self.network_name == "host":
            return
        url = await self.hub_connect_url_for_containers()
        if url:
            self.hub_connect_url = url
        await self.isolate_network()
