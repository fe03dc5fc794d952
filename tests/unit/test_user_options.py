"""What a student may ask for in ``user_options``: every quota key may be lowered or
kept, never raised above what the administrator gave (the resolved quota, the profile
ceiling); a guarantee nobody set may not be asked for; a malformed value is refused.
Every refusal is HTTP 400 in words naming the key, the value and the most allowed,
never a 500 and never applied. No services."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jhub_kit import QuotaDockerSpawner
from jhub_kit.compat import SpawnException
from jhub_kit.quota.policy import Quota
from jhub_kit.quota.user_options import REQUESTABLE, RequestRefused, bound_requests

K, M, G = 1024, 1024**2, 1024**3

#: what the administrator configured for everyone
ADMIN = {
    "mem_limit": "1G",
    "cpu_limit": 1.0,
    "swap_limit": "512M",
    "pids_limit": 256,
    "disk_limit": "5G",
    "mem_guarantee": "512M",
    "cpu_guarantee": 0.5,
}

#: key: (lower, equal, higher, the resolved value of the lower request, the refusal's words)
TABLE = {
    "mem_limit": ("768M", "1G", "2G", 768 * M, "mem_limit = 2G, above the most you may have (1G)"),
    "cpu_limit": (0.75, 1, 2, 0.75, "cpu_limit = 2, above the most you may have (1)"),
    "swap_limit": (
        "256M",
        "512M",
        "1G",
        256 * M,
        "swap_limit = 1G, above the most you may have (512M)",
    ),
    "pids_limit": (100, 256, 1000, 100, "pids_limit = 1000, above the most you may have (256)"),
    "disk_limit": ("2G", "5G", "10G", 2 * G, "disk_limit = 10G, above the most you may have (5G)"),
    "mem_guarantee": (
        "256M",
        "512M",
        "768M",
        256 * M,
        "mem_guarantee = 768M, above the most you may have (512M)",
    ),
    "cpu_guarantee": (
        0.25,
        0.5,
        0.75,
        0.25,
        "cpu_guarantee = 0.75, above the most you may have (0.5)",
    ),
}
MALFORMED = {
    "mem_limit": "lots",
    "cpu_limit": "fast",
    "swap_limit": -1,
    "pids_limit": 0,
    "disk_limit": [1],
    "mem_guarantee": "x",
    "cpu_guarantee": 0,
}


def test_the_table_covers_every_key_a_student_may_send():
    assert set(TABLE) == set(REQUESTABLE) == set(MALFORMED)


def spawner(options, **config) -> QuotaDockerSpawner:
    s = QuotaDockerSpawner(user=SimpleNamespace(name="ann", groups=[]), **config)
    s.user_options = options
    return s


async def refused(s) -> str:
    from jhub_kit import metrics

    counter = metrics.REFUSALS.labels(reason="user_options")
    before = counter._value.get()
    with pytest.raises(SpawnException) as e:
        await s.resolve_quota_for_spawn()
    assert e.value.status_code == 400, e.value
    assert counter._value.get() == before + 1  # jhub_kit_start_refusals{reason="user_options"}
    return e.value.message


@pytest.mark.parametrize("key", list(TABLE))
async def test_lower_and_equal_are_applied(key):
    lower, equal, _, resolved, _ = TABLE[key]
    quota = await spawner({key: lower}, **ADMIN).resolve_quota_for_spawn()
    assert getattr(quota, key) == resolved
    admin = await spawner({}, **ADMIN).resolve_quota_for_spawn()
    quota = await spawner({key: equal}, **ADMIN).resolve_quota_for_spawn()
    assert getattr(quota, key) == getattr(admin, key)


@pytest.mark.parametrize("key", list(TABLE))
async def test_higher_is_refused_in_words(key):
    _, _, higher, _, words = TABLE[key]
    message = await refused(spawner({key: higher}, **ADMIN))
    assert message == f"You asked for {words}; ask for {words.split('(')[1][:-1]} or less."


@pytest.mark.parametrize("key", ["mem_guarantee", "cpu_guarantee"])
async def test_a_guarantee_nobody_set_may_not_be_asked_for(key):
    config = {k: v for k, v in ADMIN.items() if k not in ("mem_guarantee", "cpu_guarantee")}
    message = await refused(spawner({key: TABLE[key][0]}, **config))
    assert message.startswith(
        f"You asked for a {key.replace('_', ' ').replace('mem', 'memory').replace('cpu', 'CPU')}"
    )
    assert f"leave {key} out" in message


async def test_the_issues_requests():
    """Issue 37: 250M/2 with no guarantee configured started with those reservations;
    4G gave a 500 ("Your resource quota is misconfigured")."""
    message = await refused(spawner({"mem_guarantee": "250M", "cpu_guarantee": 2}, mem_limit="1G"))
    assert "none is set for you" in message
    message = await refused(spawner({"mem_guarantee": "4G"}, mem_limit="1G", mem_guarantee="512M"))
    assert message.startswith(
        "You asked for mem_guarantee = 4G, above the most you may have (512M)"
    )


@pytest.mark.parametrize("key", list(MALFORMED))
async def test_malformed_is_refused(key):
    message = await refused(spawner({key: MALFORMED[key]}, **ADMIN))
    assert message.startswith(f"Invalid resource request: user_options['{key}']")


async def test_without_a_limit_a_student_may_set_one_within_the_ceiling():
    # nothing configured: asking for a limit lowers "unlimited"
    assert (await spawner({"mem_limit": "2G"}).resolve_quota_for_spawn()).mem_limit == 2 * G
    # the profile ceiling bounds requests too
    s = spawner({"mem_limit": "4G"}, quota_ceiling={"mem_limit": "2G"})
    assert "mem_limit = 4G, above the most you may have (2G)" in await refused(s)
    s = spawner({"mem_limit": "unlimited"}, mem_limit="1G")
    assert "mem_limit = unlimited, above the most you may have (1G)" in await refused(s)


async def test_budget_keys_and_incoherent_requests_are_refused():
    message = await refused(spawner({"max_servers": 1}, **ADMIN))
    assert message.startswith("max_servers is your administrator's to set")
    # a memory limit below the guarantee: 400 in words, not the admin's 500
    message = await refused(spawner({"mem_limit": "256M"}, **ADMIN))
    assert message.startswith("Your resource request cannot be applied: mem_guarantee 512M")


def test_bound_requests_pure():
    quota = Quota(mem_limit=G, cpu_limit=None, mem_guarantee=None)
    assert bound_requests({"mem_limit": "1G", "cpu_limit": 8, "profile": "x"}, quota) == {
        "mem_limit": G,
        "cpu_limit": 8.0,
    }
    assert bound_requests({"node_labels": {}}, quota) == {}  # not the student's: left out
    with pytest.raises(RequestRefused, match=r"cpu_limit = 8, above the most you may have \(2\)"):
        bound_requests({"cpu_limit": 8}, quota, {"cpu_limit": 2.0})
