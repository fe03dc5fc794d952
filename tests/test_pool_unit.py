"""The warm pool's pure parts: the limits a member gets at assignment, its name."""

from __future__ import annotations

import pytest

from jhub_kit.pool.members import PoolError, member_name, stale, update_body
from jhub_kit.quota.policy import Quota

M = 1024**2


def test_update_body_gives_exactly_the_students_limits():
    q = Quota(mem_limit=400 * M, swap_limit=0, cpu_limit=0.5, pids_limit=256)
    assert update_body(q) == {
        "Memory": 400 * M,
        "MemorySwap": 400 * M,
        "CpuPeriod": 100000,
        "CpuQuota": 50000,
        "PidsLimit": 256,
    }
    # limits the student does not have are lifted, not left at the member's
    body = update_body(Quota(mem_limit=400 * M, swap_limit=None, mem_guarantee=100 * M))
    assert body == {
        "Memory": 400 * M,
        "MemorySwap": -1,
        "CpuQuota": -1,
        "PidsLimit": -1,
        "MemoryReservation": 100 * M,
    }
    assert update_body(Quota(mem_limit=M * 8, cpu_guarantee=1))["CpuShares"] == 1024
    assert update_body(Quota(mem_limit=M * 8, cpu_limit=1), cpu_period=50000)["CpuQuota"] == 50000


def test_no_memory_limit_cannot_be_set_on_a_running_container():
    with pytest.raises(PoolError, match="without a memory limit"):
        update_body(Quota(mem_limit=None))


def test_member_names_carry_nothing_of_a_user():
    a, b = member_name("jupyter"), member_name("jupyter")
    assert a != b and a.startswith("jupyter-pool-") and len(a) == len("jupyter-pool-") + 10


def test_stale():
    assert stale(0, 100, 50) and not stale(0, 100, 500) and not stale(0, 10**9, 0)
