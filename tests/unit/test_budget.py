"""A user's budget across their servers, pure: the arithmetic and its words, and the
spawner's check against the user's other servers. No services."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jhub_kit import QuotaDockerSpawner
from jhub_kit.compat import SpawnException
from jhub_kit.quota.budget import budget_refusal
from jhub_kit.quota.policy import Quota, QuotaError, QuotaPolicy
from jhub_kit.quota.profiles import ProfileError, parse_profiles

G = 1024**3


def q(mem=None, cpu=None, **kw) -> Quota:
    return Quota(mem_limit=None if mem is None else int(mem * G), cpu_limit=cpu, **kw)


def test_no_budget_no_bound():
    assert budget_refusal(q(1), [q(8), q(8), q(8)]) is None


def test_max_servers_counts_running_and_starting():
    assert budget_refusal(q(1, max_servers=2), [q(1)]) is None
    why = budget_refusal(q(1, max_servers=2), [q(1), q(1)])
    assert why == (
        "You already run 2 servers, the most you may run at once (2); stop one before "
        "starting another."
    )
    assert "run 1 server," in budget_refusal(q(1, max_servers=1), [q(1)])


def test_memory_budget_sums_limits():
    assert budget_refusal(q(2, mem_budget=4 * G), [q(2)]) is None  # exactly at it
    why = budget_refusal(q(2, mem_budget=4 * G), [q(1), q(2)])
    assert why.startswith("This server's memory (2G) and your running servers' (3G)")
    assert "budget of 4G" in why
    # an unlimited server cannot be counted: refused, never let through
    assert "without a memory limit" in budget_refusal(q(None, mem_budget=4 * G), [])
    assert "without a memory limit" in budget_refusal(q(1, mem_budget=4 * G), [q(None)])


def test_cpu_budget():
    assert budget_refusal(q(1, 1.5, cpu_budget=3.0), [q(1, 1.5)]) is None
    assert "budget of 3" in budget_refusal(q(1, 2.0, cpu_budget=3.0), [q(1, 1.5)])
    assert "without a CPU limit" in budget_refusal(q(1, None, cpu_budget=3.0), [])


def test_budget_keys_resolve_per_group_and_stay_out_of_the_state():
    policy = QuotaPolicy.from_config(
        {"mem_limit": "1G", "max_servers": 1},
        {"project": {"max_servers": 3, "mem_budget": "6G", "cpu_budget": 4}},
    )
    assert policy.resolve("ann").max_servers == 1
    quota = policy.resolve("ann", ["project"])
    assert (quota.max_servers, quota.mem_budget, quota.cpu_budget) == (3, 6 * G, 4.0)
    assert "max_servers" not in quota.to_state()
    with pytest.raises(QuotaError, match="max_servers"):
        QuotaPolicy.from_config({"max_servers": 0})


def test_a_profile_may_not_set_the_users_budget():
    with pytest.raises(ProfileError, match="bounds the whole user"):
        parse_profiles([{"display_name": "A", "max_servers": 5}], where="p")


def fake_server(quota: Quota | None, ready=True, active=True):
    return SimpleNamespace(quota=quota, ready=ready, active=active)


async def test_spawner_refuses_beyond_max_servers_with_400():
    user = SimpleNamespace(name="ann", groups=[], spawners={})
    s = QuotaDockerSpawner(user=user, mem_limit="1G", max_servers=2, mem_budget="2G")
    user.spawners = {"": fake_server(q(1)), "b": s}
    await s.check_budget()  # one other running: fits (2 servers, 2G)
    user.spawners["a"] = fake_server(None, ready=False)  # starting: counted, its quota resolved
    user.spawners["a"].resolve_quota_now = lambda: q(1)
    with pytest.raises(SpawnException) as e:
        await s.check_budget()
    assert e.value.status_code == 400 and "the most you may run at once (2)" in str(e.value)
    user.spawners["a"].active = False  # stopped: not counted
    s.mem_limit = "1536M"
    with pytest.raises(SpawnException, match="budget of 2G"):
        await s.check_budget()
