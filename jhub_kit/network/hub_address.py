"""How single-user containers reach the Hub API (the "Failed to connect to Hub
API at 127.0.0.1:8081" pain): facts, a pure decision, and one reader.

The decision looks at facts, not marker files (``/.dockerenv`` exists on hosts
that are not containers, and is missing in some containers):

- the IPv4 addresses of the hub process's own network namespace
  (:func:`local_ipv4_addresses`, from ``/proc/net/fib_trie``);
- the servers' Docker network as the engine describes it: its gateway and the
  containers attached to it (``docker network inspect``).

If one of the network's containers has one of the hub's addresses, the hub runs
in that container, on the servers' network: servers connect to it there. If the
network's gateway is one of the hub's addresses, the hub runs on the Docker
host, where the network's bridge is: servers connect to the gateway. Otherwise
the kit cannot tell, and says what to set, instead of handing servers a host
name they cannot resolve.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_LOOPBACK_NAMES = {"localhost", "ip6-localhost"}
_ALL_INTERFACES = {"", "0.0.0.0", "::"}


class HubUnreachable(ValueError):
    """Containers on this network cannot reach the Hub as configured."""


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def gateway_of(network_inspect: dict[str, Any]) -> str | None:
    """The gateway address of a ``docker network inspect`` result, if any."""
    for cfg in (network_inspect.get("IPAM") or {}).get("Config") or []:
        gw = cfg.get("Gateway")
        if gw:
            return str(gw)
    return None


def bridge_of(network_inspect: dict[str, Any]) -> str:
    """The host interface of a bridge network (``docker network inspect`` result)."""
    opts = network_inspect.get("Options") or {}
    name = opts.get("com.docker.network.bridge.name")
    if name:
        return str(name)
    return "br-" + str(network_inspect["Id"])[:12]


def interface_ipv4(name: str) -> str | None:
    """The IPv4 address of host interface ``name`` (SIOCGIFADDR), or None where
    this process cannot see it (a hub in a container does not see the host's bridges)."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def gateway_or_bridge_address(network_inspect: dict[str, Any]) -> str | None:
    """The network's gateway: from its IPAM config, else (an engine that did not
    record it, as Docker 20.10 does for docker0 on its very first start) the
    address of its bridge interface on this host."""
    gateway = gateway_of(network_inspect)
    if gateway or network_inspect.get("Driver", "bridge") != "bridge":
        return gateway
    try:
        return interface_ipv4(bridge_of(network_inspect))
    except KeyError:  # no Id: not a real inspect result
        return None


@dataclass(frozen=True)
class NetworkFacts:
    """What the engine says of the servers' network, reduced to what the decision needs."""

    name: str
    gateway: str | None
    containers: dict[str, str] = field(default_factory=dict)  # IPv4 address -> container name
    user_defined: bool = True  # Docker's DNS resolves container names (not the default bridge)

    @classmethod
    def from_inspect(cls, network_inspect: dict[str, Any]) -> NetworkFacts:
        containers = {}
        for c in (network_inspect.get("Containers") or {}).values():
            addr = str(c.get("IPv4Address") or "").split("/")[0]
            if addr:
                containers[addr] = str(c.get("Name") or "")
        name = str(network_inspect.get("Name") or "")
        return cls(
            name=name,
            gateway=gateway_or_bridge_address(network_inspect),
            containers=containers,
            user_defined=name not in ("bridge", "host", "none"),
        )


def parse_fib_trie(text: str) -> set[str]:
    """The local IPv4 addresses in a ``/proc/net/fib_trie`` text (``/32 host LOCAL``)."""
    found: set[str] = set()
    last = ""
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|--") or s.startswith("+--"):
            last = s[3:].split()[0] if s.startswith("|--") else ""
        elif s == "/32 host LOCAL" and last:
            found.add(last)
    return found


def local_ipv4_addresses(path: str = "/proc/net/fib_trie") -> set[str]:
    """The IPv4 addresses of this process's network namespace."""
    try:
        return parse_fib_trie(Path(path).read_text())
    except OSError:
        return set()


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def hub_url_for_containers(
    *,
    hub_ip: str,
    hub_port: int,
    network_name: str,
    explicit: bool,
    local_addresses: Iterable[str],
    network: NetworkFacts | None,
) -> str | None:
    """The Hub URL to give containers, or None to keep JupyterHub's default.

    - host network, or an address set explicitly: keep the default;
    - Hub listening on loopback only: containers cannot reach it, raise
      :class:`HubUnreachable` saying what to set;
    - Hub in a container on the servers' network (one of the network's containers
      has one of the Hub's addresses): that container's name on a user-defined
      network (Docker's DNS), its address on the default bridge;
    - Hub on the Docker host (the network's gateway is one of its addresses):
      the gateway, e.g. ``http://172.17.0.1:8081``;
    - Hub on a specific address otherwise: JupyterHub already uses it;
    - anything else: the kit cannot tell, raise :class:`HubUnreachable`.
    """
    if network_name == "host" or explicit:
        return None
    if is_loopback(hub_ip or "0.0.0.0"):
        raise HubUnreachable(
            f"The Hub API listens on {hub_ip}, which containers on Docker network "
            f"{network_name!r} cannot reach. Set c.JupyterHub.hub_ip = '0.0.0.0' "
            "(or the network's gateway address) so containers can connect, set "
            "c.JupyterHub.hub_connect_ip, or use c.QuotaDockerSpawner.network_name = 'host'."
        )
    mine = set(local_addresses)
    all_ifaces = hub_ip in _ALL_INTERFACES
    if network is not None:
        for addr, name in sorted(network.containers.items()):
            if addr in mine and (all_ifaces or hub_ip == addr):
                host = name if network.user_defined and name else addr
                return _url(host, hub_port)
        if (
            network.gateway
            and network.gateway in mine
            and (all_ifaces or hub_ip == network.gateway)
        ):
            return _url(network.gateway, hub_port)
    if not all_ifaces:
        return None  # a specific, routable address: JupyterHub gives it to servers
    where = (
        f"its gateway {network.gateway} is not an address of this host, and no container on "
        "it has one of the Hub's addresses"
        if network is not None
        else "the network could not be inspected"
    )
    raise HubUnreachable(
        f"Cannot tell how servers on Docker network {network_name!r} reach the Hub: {where} "
        f"(the Hub's addresses: {', '.join(sorted(mine)) or 'none found'}). Set "
        "c.JupyterHub.hub_connect_ip to an address of the Hub that the network can reach "
        "(the Hub container's name when it shares the network), or attach the Hub's "
        "container to that network."
    )
