"""A user's budget across their servers (named servers): how many may run at once and
how much memory and CPU they may have together. Pure: :func:`budget_refusal` says,
in words for the student, why one more server does not fit, or None; a
:class:`BudgetLedger` checks and reserves in one step, so starts that arrive at the
same moment are admitted one after the other, never all against the same count."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

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


class BudgetLedger:
    """The servers admitted against each user's budget, from the check until they stop
    (or their start fails): the check and the reservation are one step.

    A server is named by a ``key`` (its server name); each reservation gets a ticket,
    and only the holder of the ticket releases it, so a refused or late cleanup never
    frees another start's place. Not thread-safe: one event loop calls it, and
    :meth:`admit` does not wait, so nothing runs between the check and the reservation.
    """

    def __init__(self) -> None:
        self._held: dict[str, dict[Hashable, tuple[int, Quota]]] = {}
        self._tickets = 0

    def held(self, user: str) -> dict[Hashable, Quota]:
        """The user's admitted servers (starting or running) and the quota of each."""
        return {key: quota for key, (_, quota) in self._held.get(user, {}).items()}

    def admit(
        self,
        user: str,
        key: Hashable,
        quota: Quota,
        unreserved: Mapping[Hashable, Quota] | None = None,
    ) -> tuple[int | None, str | None]:
        """Check that a server ``key`` with ``quota`` fits beside the user's admitted
        servers and ``unreserved`` ones (running without a reservation, e.g. started
        before the hub restarted; a key held here is counted once), and if it does,
        reserve its place. Returns ``(ticket, None)`` or ``(None, why)``. A server
        never counts against itself: ``key``'s own earlier reservation is replaced."""
        mine = self._held.get(user, {})
        others: dict[Hashable, Quota] = dict(unreserved or {})
        others.update({k: q for k, (_, q) in mine.items()})
        others.pop(key, None)
        why = budget_refusal(quota, list(others.values()))
        if why is not None:
            return None, why
        self._tickets += 1
        self._held.setdefault(user, {})[key] = (self._tickets, quota)
        return self._tickets, None

    def release(self, user: str, key: Hashable, ticket: int | None) -> bool:
        """Free ``key``'s place if ``ticket`` still holds it; whether it did."""
        mine = self._held.get(user, {})
        if ticket is None or key not in mine or mine[key][0] != ticket:
            return False
        del mine[key]
        if not mine:
            self._held.pop(user, None)
        return True

    def keep_only(self, user: str, alive: set[Hashable]) -> list[Hashable]:
        """Drop the user's reservations whose server is gone (not in ``alive``: it
        stopped without a cleanup); the keys dropped."""
        mine = self._held.get(user, {})
        gone = [k for k in mine if k not in alive]
        for k in gone:
            del mine[k]
        if not mine:
            self._held.pop(user, None)
        return gone
