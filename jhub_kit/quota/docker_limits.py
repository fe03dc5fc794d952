"""Map a :class:`~jhub_kit.quota.Quota` onto Docker host-config keywords.

Pure: the result is a dict for ``docker.APIClient.create_host_config`` (the
snake_case keywords of docker-py), tested without a daemon.
"""

from __future__ import annotations

from typing import Any

from .policy import Quota

#: Docker's default CFS period, in microseconds.
DEFAULT_CPU_PERIOD = 100_000
#: cgroup CPU shares given to one core's worth of guarantee (Docker's default weight).
SHARES_PER_CORE = 1024


def host_config_limits(quota: Quota, *, cpu_period: int = DEFAULT_CPU_PERIOD) -> dict[str, Any]:
    """docker-py ``create_host_config`` keywords that enforce ``quota``.

    - memory: ``mem_limit``; swap: ``memswap_limit`` = memory + swap
      (equal to memory means no swap; ``-1`` means unlimited swap);
    - CPU: CFS ``cpu_quota`` over ``cpu_period`` (a hard ceiling);
    - PIDs: ``pids_limit`` (stops fork bombs);
    - guarantees: ``mem_reservation`` (a soft limit the kernel reclaims
      down to under pressure) and ``cpu_shares`` (relative weight under contention).

    The disk limit is not a container setting: the home provisioner enforces it.
    """
    hc: dict[str, Any] = {}
    if quota.mem_limit is not None:
        hc["mem_limit"] = quota.mem_limit
        hc["memswap_limit"] = -1 if quota.swap_limit is None else quota.mem_limit + quota.swap_limit
    if quota.cpu_limit is not None:
        hc["cpu_period"] = cpu_period
        hc["cpu_quota"] = max(1000, round(quota.cpu_limit * cpu_period))
    if quota.pids_limit is not None:
        hc["pids_limit"] = quota.pids_limit
    if quota.mem_guarantee is not None:
        hc["mem_reservation"] = quota.mem_guarantee
    if quota.cpu_guarantee is not None:
        hc["cpu_shares"] = max(2, round(quota.cpu_guarantee * SHARES_PER_CORE))
    return hc


#: HostConfig fields (as ``docker inspect`` spells them) and their keyword above.
INSPECT_FIELDS = {
    "Memory": "mem_limit",
    "MemorySwap": "memswap_limit",
    "CpuQuota": "cpu_quota",
    "CpuPeriod": "cpu_period",
    "PidsLimit": "pids_limit",
    "MemoryReservation": "mem_reservation",
    "CpuShares": "cpu_shares",
}


def limits_differ(inspected_host_config: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Names of the limits where a container's ``HostConfig`` differs from ``wanted``.

    An absent limit reads as 0 (or -1/None for PIDs) in ``docker inspect``.
    """
    diffs = []
    for field, key in INSPECT_FIELDS.items():
        have = inspected_host_config.get(field) or 0
        want = wanted.get(key) or 0
        if field == "PidsLimit" and have in (-1, None):
            have = 0
        if field == "CpuPeriod" and not wanted.get("cpu_quota"):
            continue  # period is meaningless without a quota
        if have != want:
            diffs.append(f"{field} {have} -> {want}")
    return diffs
