"""The attack suite: a student, from inside their own server, tries to reach what they
must not. The kit's servers (network isolation on) against stock DockerSpawner's, each
on its own bridge network, in the same run; real engine, hub, proxy and iptables.

Targets made by the test itself: a "metadata" host (a network namespace holding
169.254.169.254) and a private-range host (10.213.7.2 in another namespace), both
routed from the host; a service on the host (bound to the network's gateway); the
other student's server; the Hub API (which must stay reachable)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import TEST_PREFIX, run
from hubutil import (
    PROBE,
    container_exec,
    ensure_user,
    kit_config,
    own_network,
    running_hub,
    server_get,
    start_server,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

HOSTS = {  # netns name, host-side veth, host address, namespace address
    "meta": ("jhk-meta", "jhkm0", "169.254.169.1/24", "169.254.169.254"),
    "priv": ("jhk-priv", "jhkp0", "10.213.7.1/24", "10.213.7.2"),
}


@pytest.fixture(scope="module")
def test_hosts(tmp_path_factory):
    """Two hosts in network namespaces, each serving HTTP on port 80."""
    logs = tmp_path_factory.mktemp("hosts")
    procs = []
    for ns, veth, host_addr, ns_addr in HOSTS.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", veth[:-1] + "1")
        run("ip", "link", "set", veth[:-1] + "1", "netns", ns)
        run("ip", "addr", "add", host_addr, "dev", veth)
        run("ip", "link", "set", veth, "up")
        nsx = ["nsenter", f"--net=/var/run/netns/{ns}"]
        run(*nsx, "ip", "addr", "add", ns_addr + "/24", "dev", veth[:-1] + "1")
        run(*nsx, "ip", "link", "set", veth[:-1] + "1", "up")
        run(*nsx, "ip", "link", "set", "lo", "up")
        log = open(logs / f"{ns}.log", "wb")  # noqa: SIM115 - closed with the process
        procs.append(
            (
                subprocess.Popen(
                    [*nsx, "python3", "-m", "http.server", "--bind", ns_addr, "80"],
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                ),
                log,
            )
        )
    time.sleep(1)
    yield {k: v[3] for k, v in HOSTS.items()}
    for proc, log in procs:
        proc.terminate()
        proc.wait(10)
        log.close()
    for ns, veth, _, _ in HOSTS.values():
        subprocess.run(["ip", "link", "del", veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def networks(docker_client):
    with (
        own_network(docker_client, f"{TEST_PREFIX}-kitnet") as kitnet,
        own_network(docker_client, f"{TEST_PREFIX}-stocknet") as stocknet,
    ):
        yield kitnet, stocknet


class HostService:
    """A TCP service of the host, bound to a network's gateway address."""

    def __init__(self, addr: str):
        import socket

        self.sock = socket.socket()
        self.sock.bind((addr, 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]


def proxy_api_on_all_interfaces(c) -> None:
    """The proxy's API listening beyond loopback (an external proxy, a hub container
    publishing it): a student must still not reach it."""
    from jupyterhub.utils import random_port

    c.ConfigurableHTTPProxy.api_url = f"http://0.0.0.0:{random_port()}"


def gateway(net) -> str:
    net.reload()
    return net.attrs["IPAM"]["Config"][0]["Gateway"]


def ip_of(docker_client, container: str, net_name: str) -> str:
    c = docker_client.containers.get(container)
    return c.attrs["NetworkSettings"]["Networks"][net_name]["IPAddress"]


async def attack(docker_client, app, prefix, net, hosts, service) -> dict[str, str]:
    """Two students on ``app``; student 1 probes every target; returns what it reached."""
    for n in ("s1", "s2"):
        ensure_user(app, n)
        await start_server(app, n)
    targets = {
        "the other student's server": (ip_of(docker_client, f"{prefix}-s2", net.name), 8888),
        "a service on the host": (gateway(net), service.port),
        "the cloud metadata address": (hosts["meta"], 80),
        "a private-range host": (hosts["priv"], 80),
        "the proxy's API": (gateway(net), urlparse(app.proxy.api_url).port),
        "the Hub API": (gateway(net), app.hub.port),
    }
    container = docker_client.containers.get(f"{prefix}-s1")
    result = await asyncio.to_thread(
        container.exec_run, ["python3", "-c", PROBE, json.dumps(targets)]
    )
    out = json.loads(result.output.decode().strip().splitlines()[-1])
    # the other student's server still answers through the proxy
    assert (await server_get(app, "s2")).status_code == 200
    return out


async def test_attack_suite_kit_against_stock(
    docker_client, test_image, chp, networks, test_hosts, docker_debug, capsys
):
    kitnet, stocknet = networks
    results = {}

    c = kit_config(test_image, network_name=kitnet.name, mem_limit="300M")
    c.JupyterHub.hub_ip = "0.0.0.0"
    proxy_api_on_all_interfaces(c)
    async with running_hub(c) as app:
        service = HostService(gateway(kitnet))
        results["kit"] = await attack(docker_client, app, TEST_PREFIX, kitnet, test_hosts, service)
        # in-container attempts that must fail with EPERM/EROFS (no capabilities)
        code, out = await container_exec(
            docker_client, "s1", ["sh", "-c", "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m"]
        )
        assert code != 0 and ("superuser" in out or "permission denied" in out.lower()), out
        code, out = await container_exec(
            docker_client, "s1", ["sh", "-c", "echo 2 > /proc/sys/vm/overcommit_memory"]
        )
        assert code != 0 and ("Read-only file system" in out or "Permission denied" in out), out

    stock_prefix = f"{TEST_PREFIX}-stock"
    c = kit_config(test_image)
    c.JupyterHub.spawner_class = "docker"
    c.JupyterHub.hub_ip = "0.0.0.0"
    c.JupyterHub.hub_connect_ip = gateway(stocknet)  # stock DockerSpawner needs it said
    proxy_api_on_all_interfaces(c)
    s = c.DockerSpawner
    s.image, s.network_name, s.use_internal_ip = test_image, stocknet.name, True
    s.prefix, s.pull_policy, s.remove, s.mem_limit = stock_prefix, "never", True, "300M"
    async with running_hub(c) as app:
        service = HostService(gateway(stocknet))
        results["stock DockerSpawner"] = await attack(
            docker_client, app, stock_prefix, stocknet, test_hosts, service
        )

    with capsys.disabled():
        print("\nattack from inside a student's server      kit        stock DockerSpawner")
        stock_row = results["stock DockerSpawner"]
        for target in results["kit"]:
            print(f"  {target:<40} {results['kit'][target]:<10} {stock_row[target]}")
    kit = results["kit"]
    assert kit["the Hub API"] == "open"
    for target in (
        "the other student's server",
        "a service on the host",
        "the cloud metadata address",
        "a private-range host",
        "the proxy's API",
    ):
        assert kit[target] == "refused", (target, kit)
    # the same attacks succeed against stock DockerSpawner: the test hosts are real
    stock = results["stock DockerSpawner"]
    assert stock["the cloud metadata address"] == "open", stock
    assert stock["a private-range host"] == "open", stock
    assert stock["the other student's server"] == "open", stock
    assert stock["the proxy's API"] == "open", stock
    Path("/tmp/jhub-kit-attack-table.json").write_text(json.dumps(results, indent=1))
