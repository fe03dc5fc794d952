"""Pure tests of the isolation rules (the real ones run in test_attacks.py)."""

from __future__ import annotations

import pytest

from jhub_kit.network.firewall import Isolation, bridge_of, jumps, rules


def test_rules_allow_hub_and_replies_and_refuse_the_rest():
    iso = Isolation("br-0123456789ab", (8081,), allow=("10.20.0.5/32",))
    r = rules(iso)
    fwd, inp = r["JHK-F-br-0123456789ab"], r["JHK-I-br-0123456789ab"]
    assert fwd[0] == ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"]
    assert fwd[1] == ["-d", "10.20.0.5/32", "-j", "RETURN"]  # the allow list comes first
    assert ["-o", "br-0123456789ab", "-j", "REJECT"] in fwd
    assert ["-d", "169.254.0.0/16", "-j", "REJECT"] in fwd
    assert ["-d", "10.0.0.0/8", "-j", "REJECT"] in fwd
    assert fwd[-1] == ["-j", "RETURN"]
    assert inp[1] == ["-p", "tcp", "--dport", "8081", "-j", "RETURN"]
    assert inp[-1] == ["-j", "REJECT"]
    assert jumps(iso) == [
        ("DOCKER-USER", ["-i", "br-0123456789ab", "-j", "JHK-F-br-0123456789ab"]),
        ("INPUT", ["-i", "br-0123456789ab", "-j", "JHK-I-br-0123456789ab"]),
    ]


def test_chain_names_fit_iptables():
    iso = Isolation("a-very-long-bridge-name-indeed", (1,))
    assert len(iso.forward_chain) <= 28 and len(iso.input_chain) <= 28


def test_bridge_of():
    assert bridge_of({"Id": "0123456789abcdef", "Options": {}}) == "br-0123456789ab"
    assert bridge_of({"Options": {"com.docker.network.bridge.name": "docker0"}}) == "docker0"


def test_rules_for_a_hub_in_a_container_on_the_network():
    iso = Isolation("br-0123456789ab", (8081,), hub_addresses=("172.30.0.2",))
    fwd = rules(iso)["JHK-F-br-0123456789ab"]
    # the hub's proxy reaches the servers; servers reach the hub's API port only
    assert fwd[1] == ["-s", "172.30.0.2", "-j", "RETURN"]
    assert fwd[2] == ["-d", "172.30.0.2", "-p", "tcp", "--dport", "8081", "-j", "RETURN"]
    assert fwd.index(fwd[2]) < fwd.index(["-o", "br-0123456789ab", "-j", "REJECT"])
    # nothing on the host is opened for servers: the hub is not there
    assert rules(iso)["JHK-I-br-0123456789ab"] == [
        ["-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "RETURN"],
        ["-j", "REJECT"],
    ]


LISTING = """\
-P INPUT ACCEPT
-N DOCKER-USER
-N JHK-F-br-0123456789ab
-N JHK-I-br-0123456789ab
-N JHK-F-br-ffffffffffff
-N JHK-I-br-ffffffffffff
-A INPUT -i br-ffffffffffff -j JHK-I-br-ffffffffffff
-A DOCKER-USER -i br-ffffffffffff -j JHK-F-br-ffffffffffff
"""


def test_stale_chains_are_those_of_networks_that_are_gone():
    from jhub_kit.network.firewall import kit_chains, stale_chains

    assert set(kit_chains(LISTING)) == {
        "JHK-F-br-0123456789ab",
        "JHK-I-br-0123456789ab",
        "JHK-F-br-ffffffffffff",
        "JHK-I-br-ffffffffffff",
    }
    assert stale_chains(LISTING, ["br-0123456789ab", "docker0"]) == [
        "JHK-F-br-ffffffffffff",
        "JHK-I-br-ffffffffffff",
    ]
    assert stale_chains(LISTING, ["br-0123456789ab", "br-ffffffffffff"]) == []


def test_watcher_finds_the_hub_container_on_the_network():
    from jhub_kit.network.watch import hub_addresses, isolation_for, live_bridges

    info = {
        "Id": "0123456789abcdef",
        "Options": {},
        "Containers": {
            "aaaaaaaaaaaa1111": {"Name": "jupyterhub", "IPv4Address": "172.30.0.2/16"},
            "bbbbbbbbbbbb2222": {"Name": "jupyter-alice", "IPv4Address": "172.30.0.3/16"},
        },
    }
    assert hub_addresses(info, "jupyterhub") == ("172.30.0.2",)
    assert hub_addresses(info, "aaaaaaaaaaaa") == ("172.30.0.2",)  # an id's start
    assert hub_addresses(info, "jupyter") == ()  # a name is matched whole
    iso = isolation_for(info, "jupyterhub", 8081, ["10.0.0.5/32"], ["10.255.0.53"])
    assert iso == Isolation(
        "br-0123456789ab",
        (8081,),
        ("10.0.0.5/32",),
        hub_addresses=("172.30.0.2",),
        resolvers=("10.255.0.53",),
    )
    assert live_bridges(
        [
            {"Driver": "bridge", "Id": "0123456789abcdef", "Options": {}},
            {"Driver": "host", "Id": "x"},
            {"Driver": "bridge", "Options": {"com.docker.network.bridge.name": "docker0"}},
        ]
    ) == ["br-0123456789ab", "docker0"]


@pytest.mark.root
async def test_many_first_spawns_at_once_write_the_rules_once_in_order():
    """Sixty students start at once on a new network: every start sets up the rules.
    They used to interleave their flushes and appends (a REJECT ahead of the Hub
    API's port: no server could reach the hub); now each write is one transaction."""
    import asyncio
    import subprocess

    from jhub_kit.network import firewall

    iso = Isolation("jhktest0", (18081,), hub_addresses=("10.99.0.2",))
    try:
        await asyncio.gather(*(firewall.apply(iso) for _ in range(20)))
        assert await firewall.present(iso)
        listing = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
        assert (
            sum(line.startswith("-A DOCKER-USER -i jhktest0 ") for line in listing.splitlines())
            == 1
        )
        # a rule added by hand (or a half-written chain) is noticed, and repaired
        subprocess.run(["iptables", "-I", iso.input_chain, "1", "-j", "REJECT"], check=True)
        assert not await firewall.present(iso)
        await firewall.apply(iso)
        assert await firewall.present(iso)
    finally:
        await firewall.remove(iso)
    assert not await firewall.present(iso)
    assert not firewall.kit_chains(
        subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    ).keys() & {iso.forward_chain, iso.input_chain}


REJECT = "REJECT --reject-with icmp-port-unreachable"


def test_in_place_reads_iptables_own_spelling():
    from jhub_kit.network.firewall import in_place

    iso = Isolation("br-0123456789ab", (8081,), hub_addresses=("172.30.0.2",))
    listing = "\n".join(
        [
            "-A INPUT -i br-0123456789ab -j JHK-I-br-0123456789ab",
            "-A DOCKER-USER -i br-0123456789ab -j JHK-F-br-0123456789ab",
            "-A JHK-F-br-0123456789ab -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            "-A JHK-F-br-0123456789ab -s 172.30.0.2/32 -j RETURN",
            "-A JHK-F-br-0123456789ab -d 172.30.0.2/32 -p tcp -m tcp --dport 8081 -j RETURN",
            "-A JHK-F-br-0123456789ab -o br-0123456789ab -j " + REJECT,
        ]
        + [
            f"-A JHK-F-br-0123456789ab -d {c} -j REJECT --reject-with icmp-port-unreachable"
            for c in (
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "169.254.0.0/16",
            )
        ]
        + [
            "-A JHK-F-br-0123456789ab -j RETURN",
            "-A JHK-I-br-0123456789ab -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            "-A JHK-I-br-0123456789ab -j " + REJECT,
        ]
    )
    assert in_place(iso, listing)
    swapped = listing.replace("-s 172.30.0.2/32 -j RETURN", "-s 172.30.0.3/32 -j RETURN")
    assert not in_place(iso, swapped)
    assert not in_place(iso, listing.replace("-A INPUT -i br-0123456789ab", "-A INPUT -i br-x"))


def test_dns_to_the_resolvers_and_nothing_else_there():
    """A cloud's or a campus' resolver sits in a private range: port 53 of it is
    reachable (udp and tcp), the rest of it is not; a loopback stub is not a resolver."""
    from jhub_kit.network.firewall import resolvers

    conf = "# generated\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver ::1\n"
    assert resolvers(conf) == ("10.255.255.53",)
    assert resolvers(conf, ["169.254.169.253", "10.255.255.53", "bogus"]) == (
        "10.255.255.53",
        "169.254.169.253",
    )
    iso = Isolation("br-0123456789ab", (8081,), resolvers=("10.255.255.53",))
    body = rules(iso)[iso.forward_chain]
    dns = [r for r in body if "--dport" in r and "53" in r]
    assert dns == [
        ["-d", "10.255.255.53", "-p", "udp", "--dport", "53", "-j", "RETURN"],
        ["-d", "10.255.255.53", "-p", "tcp", "--dport", "53", "-j", "RETURN"],
    ]
    # before any REJECT: the private ranges stay closed for everything else
    first_reject = next(i for i, r in enumerate(body) if r[-1] == "REJECT")
    assert all(body.index(r) < first_reject for r in dns)
    assert ["-d", "10.0.0.0/8", "-j", "REJECT"] in body
