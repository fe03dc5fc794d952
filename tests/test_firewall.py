"""Pure tests of the isolation rules (the real ones run in test_attacks.py)."""

from __future__ import annotations

from jhub_kit.firewall import Isolation, bridge_of, jumps, rules


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
