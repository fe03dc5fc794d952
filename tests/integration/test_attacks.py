"""The attack suite: a student, from inside their own server, tries to reach what they
must not. The kit's servers (network isolation on) against stock DockerSpawner's, each
on its own bridge network, in the same run; real engine, hub, proxy and iptables.

Targets made by the test itself: a "metadata" host (a network namespace holding
169.254.169.254) and a private-range host (10.213.7.2 in another namespace), both
routed from the host; a service on the host (bound to the network's gateway); the
other student's server; the Hub API (which must stay reachable)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlparse

import attackrig
import pytest
from conftest import TEST_PREFIX
from hubutil import (
    ensure_user,
    kit_config,
    own_network,
    running_hub,
    server_get,
    start_server,
)

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]


@pytest.fixture(scope="module")
def test_hosts(tmp_path_factory):
    with attackrig.namespace_hosts(tmp_path_factory.mktemp("hosts")) as hosts:
        yield hosts


@pytest.fixture
def networks(docker_client):
    with (
        own_network(docker_client, f"{TEST_PREFIX}-kitnet") as kitnet,
        own_network(docker_client, f"{TEST_PREFIX}-stocknet") as stocknet,
    ):
        yield kitnet, stocknet


def proxy_api_on_all_interfaces(c) -> None:
    """The proxy's API listening beyond loopback (an external proxy, a hub container
    publishing it): a student must still not reach it."""
    from ports import free_port

    c.ConfigurableHTTPProxy.api_url = f"http://0.0.0.0:{free_port()}"


def gateway(net) -> str:
    net.reload()
    return net.attrs["IPAM"]["Config"][0]["Gateway"]


def ip_of(docker_client, container: str, net_name: str) -> str:
    c = docker_client.containers.get(container)
    return c.attrs["NetworkSettings"]["Networks"][net_name]["IPAddress"]


async def attack(docker_client, app, prefix, net, hosts, port) -> dict[str, str]:
    """Two students on ``app``; student 1 probes every target (``port``: a service of
    the host's on the gateway) and tries what only root may; returns what it did."""
    for n in ("s1", "s2"):
        ensure_user(app, n)
        await start_server(app, n)
    targets = {
        "the other student's server": (ip_of(docker_client, f"{prefix}-s2", net.name), 8888),
        "a service on the host": (gateway(net), port),
        "the cloud metadata address": (hosts["meta"], 80),
        "a private-range host": (hosts["priv"], 80),
        "the proxy's API": (gateway(net), urlparse(app.proxy.api_url).port),
        "the Hub API": (gateway(net), app.hub.port),
    }
    exec_ = attackrig.docker_exec(docker_client.containers.get(f"{prefix}-s1"))
    out = await asyncio.to_thread(attackrig.probe, exec_, targets)
    out.update(await asyncio.to_thread(attackrig.in_container, exec_))
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
        with attackrig.host_service(gateway(kitnet)) as port:
            results["kit"] = await attack(docker_client, app, TEST_PREFIX, kitnet, test_hosts, port)

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
        with attackrig.host_service(gateway(stocknet)) as port:
            results["stock DockerSpawner"] = await attack(
                docker_client, app, stock_prefix, stocknet, test_hosts, port
            )

    with capsys.disabled():
        print("\n" + attackrig.table(results))
    attackrig.record("bridge", results["kit"])
    attackrig.record("stock", results["stock DockerSpawner"])
    kit = results["kit"]
    assert kit["the Hub API"] == "open"
    for target in (
        "the other student's server",
        "a service on the host",
        "the cloud metadata address",
        "a private-range host",
        "the proxy's API",
        *attackrig.ATTEMPTS,
    ):
        assert kit[target] == "refused", (target, kit)
    # the same attacks succeed against stock DockerSpawner: the test hosts are real
    stock = results["stock DockerSpawner"]
    assert stock["the cloud metadata address"] == "open", stock
    assert stock["a private-range host"] == "open", stock
    assert stock["the other student's server"] == "open", stock
    assert stock["the proxy's API"] == "open", stock
    assert stock["setuid(0) through a setuid-root binary"] == "root", stock
    assert stock["change a file's owner (as root in the server)"] == "changed", stock
