"""Network isolation for servers on a Docker bridge network (iptables).

What a student's server may open connections to, when the hub runs as root on
the Docker host (the kit sets it up at the first spawn on a network):

- the Hub API's port on the host (and replies to connections made to it:
  the proxy reaching the server);
- the internet, and addresses in ``allow``;
- nothing else: not another container on the same network, not the host's
  other services, not the cloud metadata address (169.254.169.254), not
  private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16).

Two chains per network, named after its bridge interface: one jumped to from
``DOCKER-USER`` (forwarded traffic, which Docker evaluates before its own rules)
and one from ``INPUT`` (traffic to the host itself). Re-applying flushes and
rewrites them, so it is idempotent. The rule lists are pure (:func:`rules`);
:func:`apply` and :func:`remove` run ``iptables`` through the kit's one runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .network import bridge_of as bridge_of  # where it was first defined
from .provision import commands

#: Where a student's server may not connect by default (RFC 1918, CGNAT, link-local).
PRIVATE_RANGES = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
)


class FirewallError(RuntimeError):
    """The rules could not be set; the message says what to run or fix."""


@dataclass(frozen=True)
class Isolation:
    bridge: str  # the network's host interface: docker0, br-<id12>
    hub_ports: tuple[int, ...]
    allow: tuple[str, ...] = ()
    block: tuple[str, ...] = PRIVATE_RANGES

    @property
    def forward_chain(self) -> str:
        return f"JHK-F-{self.bridge}"[:28]

    @property
    def input_chain(self) -> str:
        return f"JHK-I-{self.bridge}"[:28]


def rules(iso: Isolation) -> dict[str, list[list[str]]]:
    """The body of each chain, as iptables arguments after ``-A CHAIN``."""
    established = ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"]
    forward = [established]
    forward += [["-d", cidr, "-j", "RETURN"] for cidr in iso.allow]
    forward.append(["-o", iso.bridge, "-j", "REJECT"])  # other servers on the same network
    forward += [["-d", cidr, "-j", "REJECT"] for cidr in iso.block]
    forward.append(["-j", "RETURN"])  # the internet: Docker's own rules decide
    inp = [established]
    inp += [["-p", "tcp", "--dport", str(p), "-j", "RETURN"] for p in iso.hub_ports]
    inp.append(["-j", "REJECT"])  # every other service of the host
    return {iso.forward_chain: forward, iso.input_chain: inp}


def jumps(iso: Isolation) -> list[tuple[str, list[str]]]:
    """Where each chain is jumped to from: (parent chain, match + target)."""
    return [
        ("DOCKER-USER", ["-i", iso.bridge, "-j", iso.forward_chain]),
        ("INPUT", ["-i", iso.bridge, "-j", iso.input_chain]),
    ]


async def _iptables(*argv: str, check: bool = True) -> commands.Result:
    return await commands.run("iptables", "-w", "10", *argv, check=check, timeout=30)


async def apply(iso: Isolation) -> None:
    """Create or rewrite the network's chains and make sure they are jumped to."""
    try:
        for chain, body in rules(iso).items():
            await _iptables("-N", chain, check=False)  # exists already: fine
            await _iptables("-F", chain)
            for rule in body:
                await _iptables("-A", chain, *rule)
        for parent, rule in jumps(iso):
            if (await _iptables("-C", parent, *rule, check=False)).returncode != 0:
                await _iptables("-I", parent, "1", *rule)
    except commands.CommandError as e:
        raise FirewallError(
            f"cannot isolate servers on {iso.bridge}: {e}. The hub must run as root on the "
            "Docker host with iptables installed (apt-get install iptables); or set "
            "c.QuotaDockerSpawner.network_isolation = False and set up the rules yourself"
        ) from None


async def remove(iso: Isolation) -> None:
    """Remove the jumps and chains (when the network goes away)."""
    for parent, rule in jumps(iso):
        while (await _iptables("-D", parent, *rule, check=False)).returncode == 0:
            pass
    for chain in rules(iso):
        await _iptables("-F", chain, check=False)
        await _iptables("-X", chain, check=False)


async def present(iso: Isolation) -> bool:
    """Whether the network's rules are in place (both jumps exist)."""
    for parent, rule in jumps(iso):
        if (await _iptables("-C", parent, *rule, check=False)).returncode != 0:
            return False
    return True


def describe(iso: Isolation, allow: Sequence[str] = ()) -> str:
    return (
        f"servers on {iso.bridge} reach only the hub (tcp {', '.join(map(str, iso.hub_ports))}) "
        f"and the internet{'; also ' + ', '.join(allow) if allow else ''}"
    )


def commands_for(iso: Isolation) -> list[str]:
    """The rules as shell lines, for an admin who sets them up by hand."""
    lines = []
    for chain, body in rules(iso).items():
        lines.append(f"iptables -N {chain}")
        lines += [f"iptables -A {chain} " + " ".join(r) for r in body]
    lines += [f"iptables -I {parent} 1 " + " ".join(r) for parent, r in jumps(iso)]
    return lines
