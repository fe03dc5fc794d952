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
    for word, limit_key, budget_key, show in (
        ("memory", "mem_limit", "mem_budget", lambda v: format_size(int(v))),
        ("CPU", "cpu_limit", "cpu_budget", lambda v: f"{v:g}"),
    ):
        budget = getattr(quota, budget_key)
        if budget is None:
            continue
        mine = getattr(quota, limit_key)
        used = _sum([getattr(q, limit_key) for q in running])
        if mine is None or used is None:
            return (
                f"Your servers share a {word} budget of {show(budget)}, and a server "
                f"without a {word} limit cannot fit in it; an administrator must set "
                f"{limit_key}."
            )
        if used + mine > budget + 1e-9:
            return (
                f"This server's {word} ({show(mine)}) and your running servers' "
                f"({show(used)}) would be above your budget of {show(budget)}; stop a "
                "server or pick a smaller profile."
            )
    return None
