"""Pure tests of the Quota -> Docker host config mapping."""

from __future__ import annotations

import pytest

from jhub_kit.quota.docker_limits import host_config_limits, limits_differ
from jhub_kit.quota.policy import Quota

M = 1024**2


@pytest.mark.parametrize(
    "quota, expected",
    [
        (Quota(), {}),
        (Quota(mem_limit=300 * M), {"mem_limit": 300 * M, "memswap_limit": 300 * M}),
        (
            Quota(mem_limit=300 * M, swap_limit=100 * M),
            {"mem_limit": 300 * M, "memswap_limit": 400 * M},
        ),
        (Quota(mem_limit=300 * M, swap_limit=None), {"mem_limit": 300 * M, "memswap_limit": -1}),
        (Quota(cpu_limit=1.5), {"cpu_period": 100_000, "cpu_quota": 150_000}),
        (Quota(cpu_limit=0.001), {"cpu_period": 100_000, "cpu_quota": 1000}),  # Docker's minimum
        (Quota(pids_limit=64), {"pids_limit": 64}),
        (
            Quota(mem_guarantee=128 * M, cpu_guarantee=0.5),
            {"mem_reservation": 128 * M, "cpu_shares": 512},
        ),
        (Quota(disk_limit=10 * M), {}),  # the provisioner's job
    ],
    ids=[
        "nothing",
        "mem-no-swap",
        "mem-swap",
        "mem-unlimited-swap",
        "cpu",
        "cpu-min",
        "pids",
        "guarantees",
        "disk",
    ],
)
def test_host_config_limits(quota, expected):
    assert host_config_limits(quota) == expected


def test_cpu_period_from_extra_host_config():
    assert host_config_limits(Quota(cpu_limit=2), cpu_period=50_000) == {
        "cpu_period": 50_000,
        "cpu_quota": 100_000,
    }


def test_limits_differ():
    wanted = host_config_limits(Quota(mem_limit=300 * M, pids_limit=64))
    inspected = {
        "Memory": 300 * M,
        "MemorySwap": 300 * M,
        "PidsLimit": 64,
        "CpuQuota": 0,
        "CpuPeriod": 0,
        "MemoryReservation": 0,
        "CpuShares": 0,
    }
    assert limits_differ(inspected, wanted) == []
    inspected["Memory"] = 200 * M
    assert limits_differ(inspected, wanted) == [f"Memory {200 * M} -> {300 * M}"]
    # docker reports "no PIDs limit" as 0, -1 or None depending on version
    assert limits_differ({"PidsLimit": -1}, {}) == []
    assert limits_differ({"PidsLimit": None}, {}) == []
