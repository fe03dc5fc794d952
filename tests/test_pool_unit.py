"""The warm pool's pure parts: the limits a member gets at assignment, its name."""

from __future__ import annotations

import pytest

from jhub_kit.pool import PoolError, member_name, stale, update_args
from jhub_kit.quota import Quota

M = 1024**2


def test_update_args_give_exactly_the_students_limits():
    q = Quota(mem_limit=400 * M, swap_limit=0, cpu_limit=0.5, pids_limit=256)
    assert update_args(q) == [
        *("--memory", str(400 * M), "--memory-swap", str(400 * M)),
        *("--cpu-period", "100000", "--cpu-quota", "50000"),
        *("--pids-limit", "256"),
    ]
    # limits the student does not have are lifted, not left at the member's
    args = update_args(Quota(mem_limit=400 * M, swap_limit=None, mem_guarantee=100 * M))
    assert args == [
        *("--memory", str(400 * M), "--memory-swap", "-1"),
        *("--cpu-quota", "-1", "--pids-limit", "-1"),
        *("--memory-reservation", str(100 * M)),
    ]
    assert update_args(Quota(mem_limit=M * 8, cpu_guarantee=1))[-2:] == ["--cpu-shares", "1024"]


def test_no_memory_limit_cannot_be_set_on_a_running_container():
    with pytest.raises(PoolError, match="without a memory limit"):
        update_args(Quota(mem_limit=None))


def test_member_names_carry_nothing_of_a_user():
    a, b = member_name("jupyter"), member_name("jupyter")
    assert a != b and a.startswith("jupyter-pool-") and len(a) == len("jupyter-pool-") + 10


def test_stale():
    assert stale(0, 100, 50) and not stale(0, 100, 500) and not stale(0, 10**9, 0)
