"""How single-user containers reach the Hub API (the "Failed to connect to Hub
API at 127.0.0.1:8081" pain): the decision, apart from the Docker call."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
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


async def hub_url_for_containers(
    *,
    hub_ip: str,
    hub_port: int,
    network_name: str,
    explicit: bool,
    hub_in_container: bool,
    gateway: Callable[[], Awaitable[str | None]],
) -> str | None:
    """The Hub URL to give containers, or None to keep JupyterHub's default.

    - host network, or an address set explicitly: keep the default;
    - Hub in a container (jupyterhub-deploy-docker): its hostname resolves on
      the shared network, keep the default;
    - Hub on the host, listening on loopback only: containers cannot reach it,
      raise :class:`HubUnreachable` saying what to set;
    - Hub on the host, listening on all interfaces: the network's gateway
      (the host's address on that network), e.g. ``http://172.17.0.1:8081``;
    - a specific address: JupyterHub already uses it.
    """
    if network_name == "host" or explicit or hub_in_container:
        return None
    if is_loopback(hub_ip or "0.0.0.0"):
        raise HubUnreachable(
            f"The Hub API listens on {hub_ip}, which containers on Docker network "
            f"{network_name!r} cannot reach. Set c.JupyterHub.hub_ip = '0.0.0.0' "
            "(or the network's gateway address) so containers can connect, set "
            "c.JupyterHub.hub_connect_ip, or use c.QuotaDockerSpawner.network_name = 'host'."
        )
    if hub_ip not in _ALL_INTERFACES:
        return None
    gw = await gateway()
    if gw is None:
        return None
    host = f"[{gw}]" if ":" in gw else gw
    return f"http://{host}:{hub_port}"
