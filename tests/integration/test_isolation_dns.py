"""Names resolve on an isolated network whose resolver sits in a private range (a
cloud's 169.254.169.253, a campus' 10.x): the kit opens port 53 of the resolvers
the servers use and nothing else there. And turning ``network_isolation`` off
removes the kit's rules for that network.

The resolver is the test's own: a few lines of Python answering every A query,
in a network namespace this test makes (10.98.0.2), beside a TCP port that must
stay closed to the servers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import TEST_PREFIX
from hubutil import (
    container_exec,
    ensure_user,
    kit_config,
    own_network,
    running_hub,
    start_server,
    stop_server,
)

from jhub_kit.compat import admin_message
from jhub_kit.network import firewall

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

NET = f"{TEST_PREFIX}-dnsnet"
NS, HOST_IF, NS_IF = "jhkdns", "jhkdns0", "jhkdns1"
RESOLVER = "10.98.0.2"
ANSWER = "10.9.9.9"

RESPONDER = r"""
import socket, struct, threading
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 8000)); s.listen(5)
    while True:
        s.accept()[0].close()
threading.Thread(target=tcp, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", 53))
while True:
    q, peer = u.recvfrom(512)
    qid, flags, qd = struct.unpack("!HHH", q[:6])
    end = 12
    while q[end]:
        end += q[end] + 1
    question = q[12:end + 5]
    header = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("ANSWER")
    u.sendto(header + question + answer, peer)
""".replace("ANSWER", ANSWER)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def resolver_ns():
    """A network namespace at 10.98.0.2 with the responder; removed afterwards."""
    subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)
    sh("ip", "netns", "add", NS)
    proc = None
    try:
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
        sh("ip", "link", "set", NS_IF, "netns", NS)
        sh("ip", "addr", "add", "10.98.0.1/24", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        ns = ("nsenter", f"--net=/var/run/netns/{NS}")
        sh(*ns, "ip", "addr", "add", f"{RESOLVER}/24", "dev", NS_IF)
        sh(*ns, "ip", "link", "set", NS_IF, "up")
        sh(*ns, "ip", "link", "set", "lo", "up")
        sh(*ns, "ip", "route", "add", "default", "via", "10.98.0.1")
        proc = subprocess.Popen(
            [*ns, sys.executable, "-c", RESPONDER],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        yield RESOLVER
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True)
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)


@pytest.fixture
def dns_net(docker_client):
    with own_network(docker_client, NET) as net:
        yield net


PROBE = """
import socket
try:
    print("name", socket.gethostbyname("course.example"))
except OSError as e:
    print("name failed", e)
s = socket.socket(); s.settimeout(3)
try:
    s.connect(("RESOLVER", 8000)); print("port open")
except OSError as e:
    print("port closed", e)
""".replace("RESOLVER", RESOLVER)


def dns_packets(iso: firewall.Isolation) -> int:
    out = subprocess.run(
        ["iptables", "-L", iso.forward_chain, "-v", "-n", "-x"], capture_output=True, text=True
    ).stdout
    return sum(
        int(line.split()[0])
        for line in out.splitlines()
        if RESOLVER in line and "dpt:53" in line and line.split()[0].isdigit()
    )


async def test_names_resolve_at_a_private_resolver_and_nothing_else_opens(
    docker_client, test_image, chp, resolver_ns, dns_net, docker_debug
):
    def config(isolation: bool):
        c = kit_config(test_image, network_name=NET, mem_limit="300M")
        c.JupyterHub.hub_ip = "0.0.0.0"
        c.QuotaDockerSpawner.extra_host_config = {"dns": [RESOLVER]}
        c.QuotaDockerSpawner.network_isolation = isolation
        return c

    iso = firewall.Isolation(firewall.bridge_of(dns_net.attrs), ())
    async with running_hub(config(True)) as app:
        ensure_user(app, "dana")
        await start_server(app, "dana")
        before = dns_packets(iso)
        _code, out = await container_exec(docker_client, "dana", ["python3", "-c", PROBE])
        assert f"name {ANSWER}" in out, out  # the lookup went out, through the kit's rule
        assert "port closed" in out, out  # the resolver's other ports stay closed
        assert dns_packets(iso) > before  # forwarded from the server's network: counted
        await stop_server(app, "dana")

    # isolation turned off: the kit's rules for the network are gone
    chains = set(firewall.rules(iso))
    assert chains & set(firewall.kit_chains(await firewall.listing()))
    async with running_hub(config(False)) as app:
        ensure_user(app, "dana")
        await start_server(app, "dana")
        assert not chains & set(firewall.kit_chains(await firewall.listing()))
        _code, out = await container_exec(docker_client, "dana", ["python3", "-c", PROBE])
        assert "port open" in out, out  # nothing of the kit's is in the way any more
        await stop_server(app, "dana")


async def test_an_ipv6_network_is_refused_in_words(docker_client, test_image, chp, docker_debug):
    """The isolation rules are IPv4 only: servers are not started unprotected on a
    network that also speaks IPv6."""
    from hubutil import failed_spawn

    name = f"{TEST_PREFIX}-v6net"
    for old in docker_client.networks.list(names=[name]):
        old.remove()
    net = docker_client.networks.create(
        name,
        driver="bridge",
        enable_ipv6=True,
        ipam={"Config": [{"Subnet": "172.31.250.0/24"}, {"Subnet": "fd00:6a6b::/64"}]},
    )
    try:
        c = kit_config(test_image, network_name=name, mem_limit="300M")
        c.JupyterHub.hub_ip = "0.0.0.0"
        async with running_hub(c) as app:
            ensure_user(app, "vera")
            failure = await failed_spawn(app, "vera")
            assert "has IPv6 enabled" in admin_message(failure), admin_message(failure)
            assert "could not be secured" in failure.message
            assert not docker_client.containers.list(all=True, filters={"name": "vera"})
    finally:
        net.remove()
