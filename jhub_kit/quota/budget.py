"""A user's budget across their servers (named servers): how many may run at once and
how much memory and CPU they may have together. Pure: :func:`budget_refusal` says,
in words for the student, why one more server does not fit, or None."""

from __future__ import annotations

from collections.abc import Sequence

from .policy import Quota, format_size


def _sum(values: Sequence[float | int | None]) -> float | None:
    """The sum, or None when one of them is unlimited."""
    return None if any(v is None for v in values) else float(sum(v for v in values if v))


def budget_refusal(quota: Quota, running: Sequence[Quota]) -> str | None:
    """Why a server with ``quota`` may not start beside the user's ``running`` servers
    (their quotas; starting ones count), or None if it fits. ``quota``'s budget keys
    (``max_servers``, ``mem_budget``, ``cpu_budget``) are the user's."""
    n = len(running)
    if quota.max_servers is not None and n >= quota.max_servers:
        return (
            f"You already run {n} server{'s' if n != 1 else ''}, the most you may run at "
            f"once ({quota.max_servers}); stop one before starting another."
        )
    if quota.mem_budget is not None:
        used = _sum([q.mem_limit for q in running])
        if quota.mem_limit is None or used is None:
            return (
                f"Your servers share a memory budget of {format_size(quota.mem_budget)}, "
                "and a server without a memory limit cannot fit in it; an administrator "
                "must set mem_limit."
            )
        if used + quota.mem_limit > quota.mem_budget:
            return (
                f"This server's memory ({format_size(quota.mem_limit)}) and your running "
                f"servers' ({format_size(int(used))}) would be above your budget of "
                f"{format_size(quota.mem_budget)}; stop a server or pick a smaller profile."
            )
    if quota.cpu_budget is not None:
        cpus = _sum([q.cpu_limit for q in running])
        if quota.cpu_limit is None or cpus is None:
            return (
                f"Your servers share a CPU budget of {quota.cpu_budget:g}, and a server "
                "without a CPU limit cannot fit in it; an administrator must set cpu_limit."
            )
        if cpus + quota.cpu_limit > quota.cpu_budget + 1e-9:
            return (
                f"This server's CPU ({quota.cpu_limit:g}) and your running servers' "
                f"({cpus:g}) would be above your budget of {quota.cpu_budget:g}; stop a "
                "server or pick a smaller profile."
            )
    return None
