"""Network isolation for servers on a Docker bridge network (iptables).

What a student's server may open connections to, when the hub runs as root on
the Docker host (the kit sets it up at the first spawn on a network):

- the Hub API's port on the host (and replies to connections made to it:
  the proxy reaching the server);
- the internet, and addresses in ``allow``;
- nothing else: not another container on the same network, not the host's
  other services, not the cloud metadata address (169.254.169.254), not
  private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16).

Where the hub itself runs in a container on the servers' network
(jupyterhub-deploy-docker's layout), its addresses there are ``hub_addresses``:
it may open connections to the servers (the proxy), servers may reach it on the
Hub API's port only, and nothing on the host is opened for them. The hub cannot
set iptables rules from an unprivileged container: ``jhub-kit firewall watch``
(:mod:`jhub_kit.network.watch`) does, on the host, and follows the network when
it is re-created (``docker compose down``/``up``).

Two chains per network, named after its bridge interface: one jumped to from
``DOCKER-USER`` (forwarded traffic, which Docker evaluates before its own rules)
and one from ``INPUT`` (traffic to the host itself). Re-applying flushes and
rewrites them, so it is idempotent. The rule lists are pure (:func:`rules`);
:func:`apply` and :func:`remove` run ``iptables`` through the kit's one runner.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import registry
from ..provision import commands
from .hub_address import bridge_of as bridge_of  # where it was first defined

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
    #: the hub's own addresses on the network, where it runs in a container there
    hub_addresses: tuple[str, ...] = ()
    #: the DNS resolvers the servers' names are looked up at (the engine forwards
    #: their queries from the container's network): reachable on port 53 only, even
    #: in a private range (a cloud's 169.254.169.253, a campus' 10.x)
    resolvers: tuple[str, ...] = ()

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
    # a hub in a container here: its proxy opens connections to the servers
    forward += [["-s", addr, "-j", "RETURN"] for addr in iso.hub_addresses]
    forward += [
        ["-d", addr, "-p", "tcp", "--dport", str(p), "-j", "RETURN"]
        for addr in iso.hub_addresses
        for p in iso.hub_ports
    ]
    forward += [
        ["-d", addr, "-p", proto, "--dport", "53", "-j", "RETURN"]
        for addr in iso.resolvers
        for proto in ("udp", "tcp")
    ]
    forward += [["-d", cidr, "-j", "RETURN"] for cidr in iso.allow]
    forward.append(["-o", iso.bridge, "-j", "REJECT"])  # other servers on the same network
    forward += [["-d", cidr, "-j", "REJECT"] for cidr in iso.block]
    forward.append(["-j", "RETURN"])  # the internet: Docker's own rules decide
    inp = [established]
    if not iso.hub_addresses:  # the hub on the host: its API port there
        inp += [["-p", "tcp", "--dport", str(p), "-j", "RETURN"] for p in iso.hub_ports]
    inp.append(["-j", "REJECT"])  # every other service of the host
    return {iso.forward_chain: forward, iso.input_chain: inp}


def resolvers(resolv_conf: str, configured: Sequence[str] = ()) -> tuple[str, ...]:
    """The IPv4 resolvers servers' lookups go to: the host's (``nameserver`` lines
    of the resolv.conf the engine reads; a loopback one is the host's own stub,
    which the engine does not forward to) and any the config names (``dns``)."""
    import ipaddress

    found = []
    lines = [ln.split() for ln in resolv_conf.splitlines()]
    names = [f[1] for f in lines if len(f) >= 2 and f[0] == "nameserver"]
    for addr in [*names, *configured]:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            continue
        if ip.version == 4 and not ip.is_loopback and addr not in found:
            found.append(addr)
    return tuple(found)


def host_resolv_conf() -> str:
    """The resolv.conf the engine gives containers' lookups: systemd-resolved's list
    of upstream servers where ``/etc/resolv.conf`` names only its local stub."""
    from pathlib import Path

    text = ""
    for path in ("/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if resolvers(text):
            return text
    return text


def jumps(iso: Isolation) -> list[tuple[str, list[str]]]:
    """Where each chain is jumped to from: (parent chain, match + target)."""
    return [
        ("DOCKER-USER", ["-i", iso.bridge, "-j", iso.forward_chain]),
        ("INPUT", ["-i", iso.bridge, "-j", iso.input_chain]),
    ]


async def _iptables(*argv: str, check: bool = True) -> commands.Result:
    return await commands.run("iptables", "-w", "10", *argv, check=check, timeout=30)


def restore_input(iso: Isolation) -> str:
    """The chains as ``iptables-restore --noflush`` input: each declared chain is
    created or emptied and refilled in one transaction, so no connection ever sees
    a half-written chain, and two writers cannot interleave their rules."""
    lines = ["*filter"]
    lines += [f":{chain} - [0:0]" for chain in rules(iso)]
    lines += [
        shlex.join(["-A", chain, *rule]) for chain, body in rules(iso).items() for rule in body
    ]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def _lock(iso: Isolation) -> asyncio.Lock:
    """One writer per network at a time in this process (many first spawns on a
    network arrive together)."""
    lock: asyncio.Lock = registry.shared(
        "firewall-lock", None, asyncio.Lock, iso.bridge, id(asyncio.get_running_loop())
    )
    return lock


async def apply(iso: Isolation) -> None:
    """Create or rewrite the network's chains and make sure they are jumped to."""
    try:
        async with _lock(iso):
            await commands.run(
                "iptables-restore", "--noflush", "-w", "10", input=restore_input(iso), timeout=30
            )
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


CHAIN_PREFIXES = ("JHK-F-", "JHK-I-")


def kit_chains(listing: str) -> dict[str, str]:
    """The kit's chains in ``iptables -S`` output, chain -> the bridge it is for
    (as far as the name keeps it: names are cut to 28 characters)."""
    found = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "-N" and parts[1].startswith(CHAIN_PREFIXES):
            found[parts[1]] = parts[1][len("JHK-F-") :]
    return found


def stale_chains(listing: str, bridges: Iterable[str]) -> list[str]:
    """The kit's chains whose bridge is none of ``bridges`` (its network was
    deleted, by the kit or by anyone else)."""
    live = {(CHAIN_PREFIXES[0] + b)[:28][len("JHK-F-") :] for b in bridges}
    return sorted(chain for chain, bridge in kit_chains(listing).items() if bridge not in live)


async def prune(bridges: Iterable[str]) -> list[str]:
    """Remove the kit's chains (and the jumps to them) for networks that are gone;
    ``bridges`` are the bridge interfaces of the networks that exist. Returns the
    chains removed."""
    listing = (await _iptables("-S")).stdout
    gone = stale_chains(listing, bridges)
    for chain in gone:
        for line in listing.splitlines():
            parts = line.split()
            # "-A INPUT -i br-x -j JHK-I-br-x": delete the jump, whatever its position
            if len(parts) > 2 and parts[0] == "-A" and parts[-2:] == ["-j", chain]:
                await _iptables("-D", *parts[1:], check=False)
        await _iptables("-F", chain, check=False)
        await _iptables("-X", chain, check=False)
    return gone


def _normal(line: str) -> str:
    """An ``iptables -S`` line without what iptables adds to the rules as written."""
    words = (
        line.replace(" -m tcp ", " ")
        .replace(" -m udp ", " ")
        .replace(" --reject-with icmp-port-unreachable", "")
    )
    return " ".join(w[:-3] if w.endswith("/32") else w for w in words.split())


def in_place(iso: Isolation, listing: str) -> bool:
    """Whether ``iptables -S`` output has exactly the network's rules, in order,
    and both jumps to them (a flushed, partly written or edited chain is not)."""
    lines = [_normal(line) for line in listing.splitlines()]
    for parent, rule in jumps(iso):
        if _normal(shlex.join(["-A", parent, *rule])) not in lines:
            return False
    for chain, body in rules(iso).items():
        have = [line for line in lines if line.startswith(f"-A {chain} ")]
        if have != [_normal(shlex.join(["-A", chain, *rule])) for rule in body]:
            return False
    return True


async def listing() -> str:
    """``iptables -S``: every rule of the filter table."""
    return (await _iptables("-S")).stdout


async def present(iso: Isolation) -> bool:
    """Whether the network's rules are in place, exactly (:func:`in_place`)."""
    return in_place(iso, (await _iptables("-S")).stdout)


def describe(iso: Isolation, allow: Sequence[str] = ()) -> str:
    hub = f"the hub{' at ' + ', '.join(iso.hub_addresses) if iso.hub_addresses else ''}"
    return (
        f"servers on {iso.bridge} reach only {hub} (tcp {', '.join(map(str, iso.hub_ports))}) "
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
