"""Pure tests of how containers are told to reach the Hub."""

from __future__ import annotations

import pytest

from jhub_kit.network import HubUnreachable, gateway_of, hub_url_for_containers


async def _gw():
    return "172.17.0.1"


async def _no_gw():
    return None


async def _fail():
    raise AssertionError("the gateway must not be looked up")


@pytest.mark.parametrize(
    "hub_ip, network, explicit, in_container, gateway, expected",
    [
        ("127.0.0.1", "host", False, False, _fail, None),
        ("0.0.0.0", "bridge", False, False, _gw, "http://172.17.0.1:8081"),
        ("", "jupyterhub-network", False, False, _gw, "http://172.17.0.1:8081"),
        ("0.0.0.0", "bridge", True, False, _fail, None),
        ("0.0.0.0", "jupyterhub-network", False, True, _fail, None),
        ("10.1.2.3", "bridge", False, False, _fail, None),
        ("0.0.0.0", "bridge", False, False, _no_gw, None),
    ],
    ids=[
        "host-net",
        "bridge-all-ifaces",
        "named-net-empty-ip",
        "explicit",
        "hub-in-container",
        "specific-ip",
        "no-gateway",
    ],
)
async def test_decision(hub_ip, network, explicit, in_container, gateway, expected):
    url = await hub_url_for_containers(
        hub_ip=hub_ip,
        hub_port=8081,
        network_name=network,
        explicit=explicit,
        hub_in_container=in_container,
        gateway=gateway,
    )
    assert url == expected


@pytest.mark.parametrize("hub_ip", ["127.0.0.1", "localhost", "::1", "127.0.1.1"])
async def test_loopback_hub_is_unreachable_with_advice(hub_ip):
    with pytest.raises(HubUnreachable) as e:
        await hub_url_for_containers(
            hub_ip=hub_ip,
            hub_port=8081,
            network_name="bridge",
            explicit=False,
            hub_in_container=False,
            gateway=_fail,
        )
    assert f"The Hub API listens on {hub_ip}" in str(e.value)
    assert "c.JupyterHub.hub_ip = '0.0.0.0'" in str(e.value)


def test_gateway_of():
    assert (
        gateway_of({"IPAM": {"Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]}})
        == "172.17.0.1"
    )
    assert gateway_of({"IPAM": {"Config": []}}) is None
    assert gateway_of({}) is None
