"""Pure tests of how containers are told to reach the Hub: facts in, a URL (or advice) out."""

from __future__ import annotations

import pytest

from jhub_kit.network.hub_address import (
    HubUnreachable,
    NetworkFacts,
    gateway_of,
    gateway_or_bridge_address,
    hub_url_for_containers,
    parse_fib_trie,
)

HOST_ADDRS = {"127.0.0.1", "10.0.0.5", "172.17.0.1", "172.18.0.1"}  # a Docker host
IN_CONTAINER = {"127.0.0.1", "172.18.0.3"}  # a hub container on jupyterhub-network

NET = NetworkFacts(
    name="jupyterhub-network",
    gateway="172.18.0.1",
    containers={"172.18.0.3": "jupyterhub", "172.18.0.4": "jupyter-alice"},
)
BRIDGE = NetworkFacts(
    name="bridge", gateway="172.17.0.1", containers={"172.17.0.2": "hub"}, user_defined=False
)


def decide(hub_ip="0.0.0.0", network=NET, local=HOST_ADDRS, explicit=False, name=None):
    return hub_url_for_containers(
        hub_ip=hub_ip,
        hub_port=8081,
        network_name=name or (network.name if network else "x"),
        explicit=explicit,
        local_addresses=local,
        network=network,
    )


def test_hub_on_the_host_uses_the_gateway():
    assert decide() == "http://172.18.0.1:8081"
    assert decide(hub_ip="") == "http://172.18.0.1:8081"
    assert decide(hub_ip="172.18.0.1") == "http://172.18.0.1:8081"
    assert decide(network=BRIDGE) == "http://172.17.0.1:8081"


def test_hub_in_a_container_on_the_network_uses_its_name_or_address():
    assert decide(local=IN_CONTAINER) == "http://jupyterhub:8081"
    # the default bridge has no DNS for container names: the address
    assert decide(network=BRIDGE, local={"127.0.0.1", "172.17.0.2"}) == "http://172.17.0.2:8081"


def test_a_marker_file_is_not_a_fact():
    """/.dockerenv on a host (this rig) no longer matters: the host's addresses decide."""
    assert decide(local=HOST_ADDRS) == "http://172.18.0.1:8081"


def test_host_network_and_explicit_settings_keep_jupyterhubs_default():
    assert decide(name="host", network=None) is None
    assert decide(explicit=True) is None
    # a specific address that is not the gateway: JupyterHub gives it to servers
    assert decide(hub_ip="10.0.0.5") is None


@pytest.mark.parametrize("hub_ip", ["127.0.0.1", "localhost", "::1", "127.0.1.1"])
def test_loopback_hub_is_unreachable_with_advice(hub_ip):
    with pytest.raises(HubUnreachable) as e:
        decide(hub_ip=hub_ip)
    assert f"The Hub API listens on {hub_ip}" in str(e.value)
    assert "c.JupyterHub.hub_ip = '0.0.0.0'" in str(e.value)


def test_cannot_tell_says_what_to_set():
    """A hub in a container on another network, or a network that could not be read."""
    elsewhere = {"127.0.0.1", "172.19.0.7"}
    with pytest.raises(HubUnreachable) as e:
        decide(local=elsewhere)
    msg = str(e.value)
    assert "Cannot tell how servers on Docker network 'jupyterhub-network' reach the Hub" in msg
    assert "gateway 172.18.0.1 is not an address of this host" in msg
    assert "c.JupyterHub.hub_connect_ip" in msg
    with pytest.raises(HubUnreachable, match="could not be inspected"):
        decide(network=None, name="jupyterhub-network")


def test_facts_from_inspect():
    facts = NetworkFacts.from_inspect(
        {
            "Name": "jupyterhub-network",
            "IPAM": {"Config": [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]},
            "Containers": {"abc": {"Name": "jupyterhub", "IPv4Address": "172.18.0.3/16"}},
        }
    )
    assert facts == NetworkFacts("jupyterhub-network", "172.18.0.1", {"172.18.0.3": "jupyterhub"})
    assert NetworkFacts.from_inspect({"Name": "bridge"}).user_defined is False


FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 172.17.0.0/16 2 0 2
        |-- 172.17.0.0
           /16 link UNICAST
        |-- 172.17.0.1
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
        |-- 172.17.0.1
           /32 host LOCAL
"""


def test_parse_fib_trie():
    assert parse_fib_trie(FIB_TRIE) == {"127.0.0.1", "172.17.0.1"}


def test_gateway_of():
    assert (
        gateway_of({"IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}})
        == "172.17.0.1"
    )
    assert gateway_of({"IPAM": {"Config": []}}) is None
    assert gateway_of({}) is None


def test_gateway_falls_back_to_the_bridge_interface():
    """An engine that recorded no IPAM gateway (docker0 on Docker 20.10's first start):
    the bridge's own address on this host; the loopback interface stands in for it."""
    no_gateway = {
        "Name": "bridge",
        "Id": "0123456789abcdef",
        "Driver": "bridge",
        "Options": {"com.docker.network.bridge.name": "lo"},
        "IPAM": {"Config": [{"Subnet": "127.0.0.0/8"}]},
    }
    assert gateway_or_bridge_address(no_gateway) == "127.0.0.1"
    assert NetworkFacts.from_inspect(no_gateway).gateway == "127.0.0.1"
    absent = {**no_gateway, "Options": {"com.docker.network.bridge.name": "jhk-absent0"}}
    assert gateway_or_bridge_address(absent) is None  # not visible here: unknown, not guessed
    overlay = {**no_gateway, "Driver": "overlay"}
    assert gateway_or_bridge_address(overlay) is None
