"""A user's budget across their servers, pure: the arithmetic and its words, and the
spawner's check against the user's other servers. No services."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from traitlets.config import Config

from jhub_kit import QuotaDockerSpawner
from jhub_kit.compat import SpawnException
from jhub_kit.quota.budget import BudgetLedger, budget_refusal
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


def fake_server(
    quota: Quota | None, ready=True, active=True, pending=None, server="running", object_id="c0"
):
    """Another server of the user, as the budget reads it (``server``: JupyterHub's
    record of where it runs; ``object_id``: its container, "" when none was made)."""
    return SimpleNamespace(
        quota=quota, ready=ready, active=active, pending=pending, server=server, object_id=object_id
    )


def named_spawner(user, name: str, config: Config, **traits) -> QuotaDockerSpawner:
    """A spawner of ``user``'s server ``name`` (JupyterHub reads the name from its row)."""
    return QuotaDockerSpawner(
        user=user, orm_spawner=SimpleNamespace(name=name, server=None), config=config, **traits
    )


async def test_spawner_refuses_beyond_max_servers_with_400():
    user = SimpleNamespace(name="ann", groups=[], spawners={})
    cfg = Config()
    s = named_spawner(user, "b", cfg, mem_limit="1G", max_servers=2, mem_budget="2G")
    user.spawners = {"": fake_server(q(1)), "b": s}
    await s.check_budget()  # one other running: fits (2 servers, 2G)
    s.clear_state()  # its start failed: its place is free again
    # stopping (not a place in the ledger, still there): counted with its quota
    user.spawners["a"] = fake_server(q(1), ready=False, pending="stop")
    with pytest.raises(SpawnException) as e:
        await s.check_budget()
    assert e.value.status_code == 400
    assert e.value.message.startswith("You already run 2 servers, the most you may run at once (2)")
    # JupyterHub stopping a start that never ran (refused a moment ago: JupyterHub
    # polls it, then stops it; it made no container): not counted (4 at once with
    # max_servers = 2 said "You already run 3 servers" in some runs on the engine)
    for gone in (dict(server=None), dict(object_id="")):
        user.spawners["a"] = fake_server(q(1), ready=False, pending="stop", **gone)
        await s.check_budget()
        s.clear_state()
    # starting and not yet checked: not counted (it is checked in its turn)
    user.spawners["a"] = fake_server(None, ready=False, pending="spawn")
    await s.check_budget()
    s.clear_state()
    user.spawners["a"].active = False  # stopped: not counted
    s.mem_limit = "1536M"
    with pytest.raises(SpawnException, match="budget of 2G"):
        await s.check_budget()


# -- the reservations: starts that arrive together ------------------------------------

BUDGETS = {
    # kind: (quota of each server under a budget of k, the refusal's words for k)
    "count": (
        lambda k: q(1, 1.0, max_servers=k),
        lambda k: (
            f"You already run {k} server{'s' if k != 1 else ''}, the most you may "
            f"run at once ({k});"
        ),
    ),
    "memory": (
        lambda k: q(1, 1.0, mem_budget=k * G),
        lambda k: (
            f"This server's memory (1G) and your running servers' ({k}G) would be "
            f"above your budget of {k}G;"
        ),
    ),
    "cpu": (
        lambda k: q(1, 1.0, cpu_budget=float(k)),
        lambda k: (
            f"This server's CPU (1) and your running servers' ({k}) would be above "
            f"your budget of {k};"
        ),
    ),
}
CASES = [(kind, n, k) for kind in BUDGETS for n in range(2, 9) for k in range(1, 4)]


@pytest.mark.parametrize(
    ("kind", "n", "budget"), CASES, ids=[f"{c[0]}-{c[1]}on{c[2]}" for c in CASES]
)
def test_ledger_admits_exactly_the_budget(kind, n, budget):
    quota_for, words = BUDGETS[kind]
    ledger = BudgetLedger()
    results = [ledger.admit("ann", f"s{i}", quota_for(budget)) for i in range(n)]
    admitted = [i for i, (ticket, _) in enumerate(results) if ticket is not None]
    assert len(admitted) == min(n, budget)
    refusals = [why for ticket, why in results if ticket is None]
    assert len(refusals) == n - min(n, budget)
    assert all(why.startswith(words(budget)) for why in refusals), refusals
    assert len(ledger.held("ann")) == min(n, budget)
    # a failed start frees exactly its place; a refused one (no ticket) frees nothing
    assert not ledger.release("ann", "s0", None)
    first = results[admitted[0]][0]
    assert ledger.release("ann", f"s{admitted[0]}", first)
    assert not ledger.release("ann", f"s{admitted[0]}", first)  # twice: once
    assert ledger.admit("ann", "late", quota_for(budget))[0] is not None
    if n >= budget:  # full again
        assert ledger.admit("ann", "later", quota_for(budget))[0] is None


def test_ledger_counts_a_server_once_and_never_the_start_itself():
    ledger = BudgetLedger()
    two = q(1, max_servers=2)
    t, _ = ledger.admit("ann", "a", two)
    # "a" runs and is also reported unreserved: one server, not two
    assert ledger.admit("ann", "b", two, {"a": q(1)})[0] is not None
    # a restarted start of "b" replaces its own place, it does not count itself
    assert ledger.admit("ann", "b", two)[0] is not None
    ticket, why = ledger.admit("ann", "c", two, {"old": q(1)})
    assert ticket is None and why.startswith("You already run 3 servers")
    assert ledger.admit("bob", "a", two)[0] is not None  # another user: another budget
    assert ledger.keep_only("ann", {"b"}) == ["a"]
    assert set(ledger.held("ann")) == {"b"}
    assert not ledger.release("ann", "a", t)  # dropped already


async def _racing_spawners(n: int, limits: dict, failing: int = 0):
    """``n`` named servers of one user, all starting (pending) at once, their budget
    checked concurrently; the quota resolves through an async callable, so each check
    waits in the middle as a real one does."""
    import asyncio

    async def mem(spawner):
        await asyncio.sleep(0.01 * (hash(spawner.name) % 5))
        return "1G"

    cfg = Config()
    user = SimpleNamespace(name="ann", groups=[], spawners={})
    for i in range(n):
        s = named_spawner(user, f"s{i}", cfg, cpu_limit=1.0, **limits)
        s.mem_limit = mem
        s._spawn_pending = True
        user.spawners[s.name] = s

    async def one(s):
        try:
            await s.check_budget()
            return None
        except SpawnException as e:
            assert e.status_code == 400
            return str(e)

    results = await asyncio.gather(*(one(s) for s in user.spawners.values()))
    return user, results


@pytest.mark.parametrize(
    ("n", "limits", "admitted", "words"),
    [
        (4, {"max_servers": 2}, 2, "You already run 2 servers, the most you may run at once (2)"),
        (8, {"max_servers": 3}, 3, "You already run 3 servers, the most you may run at once (3)"),
        (5, {"mem_budget": "2G"}, 2, "your running servers' (2G) would be above your budget of 2G"),
        (6, {"cpu_budget": 3}, 3, "your running servers' (3) would be above your budget of 3"),
    ],
    ids=["4-at-once-max-2", "8-at-once-max-3", "5-at-once-2G", "6-at-once-3cpu"],
)
async def test_spawners_starting_together_are_admitted_in_turn(n, limits, admitted, words):
    user, results = await _racing_spawners(n, limits)
    assert results.count(None) == admitted
    assert all(words in why for why in results if why is not None), results
    # one admitted start fails (an exception, a timeout, a cancel: JupyterHub stops it,
    # which clears its state): its place is free, and one more start fits
    ok = [s for s, why in zip(user.spawners.values(), results, strict=True) if why is None]
    ok[0].clear_state()
    ok[0]._spawn_pending = False
    refused = [s for s, why in zip(user.spawners.values(), results, strict=True) if why is not None]
    for s in refused:  # refused starts are stopped too: they free nothing
        s.clear_state()
        s._spawn_pending = False
    retry = refused[0]
    retry._spawn_pending = True
    await retry.check_budget()
    with pytest.raises(SpawnException, match=words.replace("(", r"\(").replace(")", r"\)")):
        await ok[0].check_budget()
