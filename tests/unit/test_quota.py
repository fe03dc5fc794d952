"""Pure tests of quota parsing and resolution (no services)."""

from __future__ import annotations

import pytest

from jhub_kit.quota.policy import (
    UNLIMITED,
    Quota,
    QuotaError,
    QuotaPolicy,
    format_size,
    parse_count,
    parse_cpu,
    parse_size,
    read_kit_state,
)

G = 1024**3
M = 1024**2


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("512M", 512 * M),
        ("2G", 2 * G),
        ("1.5G", int(1.5 * G)),
        ("2g", 2 * G),
        ("100KiB", 100 * 1024),
        ("3 GB", 3 * G),
        ("1T", 1024 * G),
        (".5G", G // 2),
        ("1048576", M),
        (1048576, M),
        (0, 0),
        ("unlimited", UNLIMITED),
        ("None", UNLIMITED),
    ],
    ids=lambda v: repr(v),
)
def test_parse_size(raw, expected):
    assert parse_size(raw) == expected


@pytest.mark.parametrize("raw", ["2 gigs", "", "G", "-1G", "1.2.3M", True, [1], -5, "1P"])
def test_parse_size_rejects(raw):
    with pytest.raises(QuotaError, match=r'use e\.g\. "512M", "2G", "1\.5G" or a number of bytes'):
        parse_size(raw, where="X")


@pytest.mark.parametrize(
    "raw, expected", [(2, 2.0), (0.5, 0.5), ("1.5", 1.5), ("unlimited", UNLIMITED)]
)
def test_parse_cpu(raw, expected):
    assert parse_cpu(raw) == expected


@pytest.mark.parametrize("raw", [0, -1, "two", True, None])
def test_parse_cpu_rejects(raw):
    with pytest.raises(QuotaError, match="cores"):
        parse_cpu(raw)


@pytest.mark.parametrize("raw, expected", [(256, 256), ("64", 64), ("unlimited", UNLIMITED)])
def test_parse_count(raw, expected):
    assert parse_count(raw) == expected


@pytest.mark.parametrize("raw", [0, -3, 1.5, "many", True])
def test_parse_count_rejects(raw):
    with pytest.raises(QuotaError, match="whole number"):
        parse_count(raw)


@pytest.mark.parametrize(
    "n, text",
    [(2 * G, "2G"), (int(1.5 * G), "1.5G"), (512 * M, "512M"), (1000, "1000"), (None, "unlimited")],
)
def test_format_size(n, text):
    assert format_size(n) == text


POLICY = QuotaPolicy.from_config(
    defaults={"mem_limit": "1G", "cpu_limit": 1, "pids_limit": 256, "disk_limit": "2G"},
    groups={
        "teachers": {"mem_limit": "4G", "cpu_limit": 2},
        "gpu": {"mem_limit": "3G", "cpu_limit": 4, "pids_limit": "unlimited"},
        "guests": {"mem_limit": "512M"},
    },
    users={"alice": {"disk_limit": "20G", "mem_limit": "8G"}, "tiny": {"cpu_limit": 0.25}},
)


@pytest.mark.parametrize(
    "user, groups, expected",
    [
        ("bob", [], Quota(mem_limit=G, cpu_limit=1.0, pids_limit=256, disk_limit=2 * G)),
        (
            "bob",
            ["unknown-group"],
            Quota(mem_limit=G, cpu_limit=1.0, pids_limit=256, disk_limit=2 * G),
        ),
        (
            "carol",
            ["teachers"],
            Quota(mem_limit=4 * G, cpu_limit=2.0, pids_limit=256, disk_limit=2 * G),
        ),
        # a group may lower a default
        (
            "guest1",
            ["guests"],
            Quota(mem_limit=512 * M, cpu_limit=1.0, pids_limit=256, disk_limit=2 * G),
        ),
        # two groups: most generous per resource; "unlimited" beats numbers
        (
            "dave",
            ["teachers", "gpu"],
            Quota(mem_limit=4 * G, cpu_limit=4.0, pids_limit=None, disk_limit=2 * G),
        ),
        (
            "erin",
            ["guests", "teachers"],
            Quota(mem_limit=4 * G, cpu_limit=2.0, pids_limit=256, disk_limit=2 * G),
        ),
        # the user's own entry wins over groups, per key
        (
            "alice",
            ["guests"],
            Quota(mem_limit=8 * G, cpu_limit=1.0, pids_limit=256, disk_limit=20 * G),
        ),
        (
            "tiny",
            ["teachers"],
            Quota(mem_limit=4 * G, cpu_limit=0.25, pids_limit=256, disk_limit=2 * G),
        ),
    ],
    ids=[
        "default",
        "unknown-group",
        "one-group",
        "group-lowers",
        "two-groups-unlimited",
        "two-groups-max",
        "user-override",
        "user-lowers-group",
    ],
)
def test_resolve_precedence(user, groups, expected):
    assert POLICY.resolve(user, groups) == expected


def test_resolve_extra_layer_wins():
    q = POLICY.resolve("carol", ["teachers"], extra={"mem_limit": 256 * M})
    assert q.mem_limit == 256 * M


def test_swap_default_is_no_swap_and_unlimited_swap():
    p = QuotaPolicy.from_config({"mem_limit": "1G"}, {"big": {"swap_limit": "unlimited"}})
    assert p.resolve("x").swap_limit == 0
    assert p.resolve("x", ["big"]).swap_limit is None


def test_guarantee_above_limit_is_an_error():
    p = QuotaPolicy.from_config({"mem_limit": "1G", "mem_guarantee": "2G"})
    with pytest.raises(QuotaError, match="mem_guarantee 2G is above mem_limit 1G"):
        p.resolve("x")


def test_errors_name_the_option_key_and_example():
    with pytest.raises(QuotaError) as e:
        QuotaPolicy.from_config(
            groups={"teachers": {"mem_limit": "4 gigs"}}, where="QuotaDockerSpawner"
        )
    assert str(e.value) == (
        "QuotaDockerSpawner groups['teachers']['mem_limit']: '4 gigs' is not a size; "
        'use e.g. "512M", "2G", "1.5G" or a number of bytes (example: mem_limit = "2G")'
    )


def test_unknown_resource_lists_valid_keys():
    with pytest.raises(
        QuotaError, match="unknown resource 'memory'; valid keys are mem_limit, swap_limit"
    ):
        QuotaPolicy.from_config(users={"a": {"memory": "1G"}})


def test_memory_below_docker_minimum():
    with pytest.raises(QuotaError, match="below Docker's minimum of 6M"):
        QuotaPolicy.from_config({"mem_limit": "1M"})


def test_overlay_wins_per_key():
    base = QuotaPolicy.from_config({"mem_limit": "1G", "cpu_limit": 1}, {"t": {"mem_limit": "2G"}})
    top = QuotaPolicy.from_config({"mem_limit": "3G"}, {"t": {"cpu_limit": 3}})
    merged = base.overlay(top)
    assert merged.resolve("u", ["t"]) == Quota(mem_limit=2 * G, cpu_limit=3.0)
    assert merged.resolve("u") == Quota(mem_limit=3 * G, cpu_limit=1.0)


def test_describe():
    q = Quota(mem_limit=2 * G, cpu_limit=1.5, pids_limit=100)
    assert q.describe() == "memory 2G, swap 0, cpu 1.5, pids 100, disk unlimited"


def test_user_requests_may_only_lower():
    q = POLICY.resolve("carol", ["teachers"], lower_only={"mem_limit": 512 * M, "cpu_limit": 64})
    assert q.mem_limit == 512 * M  # lowered
    assert q.cpu_limit == 2.0  # asking for 64 cores does not raise the limit
    q = POLICY.resolve("bob", [], lower_only={"pids_limit": UNLIMITED, "mem_limit": 64 * G})
    assert (q.pids_limit, q.mem_limit) == (256, G)  # asking for more changes nothing
    q = POLICY.resolve("dave", ["gpu"], lower_only={"pids_limit": 50})
    assert q.pids_limit == 50


@pytest.mark.parametrize(
    "n, text",
    [(996780 * 1024, "973M"), (2 * G, "2.0G"), (15 * G, "15G"), (5000, "4K"), (None, "unlimited")],
)
def test_approx_size(n, text):
    from jhub_kit.quota.policy import approx_size

    assert approx_size(n) == text


KIT = {"schema": 1, "quota": {"mem_limit": 5}}


@pytest.mark.parametrize(
    "state, expected",
    [
        ({"jhub_kit": KIT, "object_id": "c1"}, KIT),
        ({"object_id": "c1"}, {}),  # a stock spawner's, or a kit's with nothing to keep
        ({"jhub_kit": None}, {}),
        ({"jhub_kit": {}}, {}),
        ({"jhub_kit": "?"}, {}),
        ({"jhub_kit": ["quota"]}, {}),
        (None, {}),  # the REST model without admin:server_state
        ({}, {}),
        ("?", {}),
    ],
    ids=["kit", "no-kit-part", "none", "empty", "a-string", "a-list", "no-state", "empty-state",
         "state-a-string"],
)  # fmt: skip
def test_read_kit_state(state, expected):
    assert read_kit_state(state) == expected
