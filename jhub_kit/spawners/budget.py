"""The user's budget across their servers, checked as each start begins (after
``pre_spawn_hook``, :meth:`jhub_kit.spawners.kit.KitSpawner.run_pre_spawn_hook`): a
start beyond ``max_servers``, ``mem_budget`` or ``cpu_budget``
is refused with HTTP 400 in words and nothing is created. The arithmetic and the
reservations are :mod:`jhub_kit.quota.budget`.

Starts that arrive together are admitted one after the other: the check and the
reservation of the place are one step (:meth:`BudgetLedger.admit`, no wait between),
and the place is held until the server stops or its start fails (JupyterHub clears
the state of every server it stops, whatever went wrong: an exception, a timeout, a
cancelled start). A server counts once, and only if it runs or was admitted: one
still starting but not yet checked is not counted (it is checked in its turn), and a
start never counts itself.

A part, not a mixin: each kit spawner makes one :class:`BudgetPart` (its
``budget_part``), given the hub's ledger, and calls it with the server and the
quota (``check_budget``, ``release_budget``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from .. import metrics
from ..compat import SpawnException
from ..quota.budget import BudgetLedger
from ..quota.policy import Quota


class BudgetPart:
    """One server's place in its user's budget: a start admitted or refused."""

    def __init__(self, ledger: BudgetLedger) -> None:
        self.ledger = ledger
        self.quota: Quota | None = None
        """The quota this start was admitted with (what it will get)."""
        self.ticket: int | None = None
        """This server's place in the user's budget, from the admission until it stops."""

    def release(self, user: str, server: str) -> None:
        """Give the place of ``user``'s server ``server`` back (it stopped, or its start
        failed); nothing if it holds none."""
        ticket, self.ticket = self.ticket, None
        self.quota = None
        if ticket is not None:
            self.ledger.release(user, server, ticket)

    def admit(
        self,
        spawner: Any,
        quota: Quota,
        log: Any,
    ) -> None:
        """Admit the start of ``spawner`` (its user's server), which will run with
        ``quota``, and hold its place; or refuse it with HTTP 400 naming how many
        servers the user really runs."""
        # from here to the reservation nothing waits: no other start runs between
        user, server = spawner.user.name, spawner.name
        spawners = getattr(spawner.user, "spawners", None) or {}
        alive = {k for k, sp in list(spawners.items()) if sp is not spawner and sp.active}
        stale = self.ledger.keep_only(user, alive | {server})
        if stale:
            log.debug("Budget of %s: places of gone servers %s freed", user, stale)
        unreserved = unreserved_servers(spawner, spawners, self.ledger.held(user))
        ticket, why = self.ledger.admit(user, server, quota, unreserved)
        if why:
            log.warning("Start of %s refused by the user's budget: %s", spawner._log_name, why)
            metrics.count_refusal("budget")
            raise SpawnException(why, reason="budget", status_code=400)
        self.ticket = ticket
        self.quota = quota


def unreserved_servers(
    me: Any, spawners: Mapping[Hashable, Any], held: dict[Hashable, Quota]
) -> dict[Hashable, Quota]:
    """The user's other servers (``spawners``, but ``me``) that run without a place in
    the ledger (started before this hub process, or stopping), with their quotas.
    One still starting and not yet checked is left out: it is checked in its turn;
    so is one being stopped that never ran (the cleanup of a refused start)."""
    found: dict[Hashable, Quota] = {}
    for key, sp in list(spawners.items()):
        if sp is me or key in held or not sp.active:
            continue
        pending = getattr(sp, "pending", None)
        if pending == "spawn":
            continue
        if getattr(sp, "object_id", None) == "" or (
            pending == "stop" and getattr(sp, "server", None) is None
        ):
            # nothing of it was made: JupyterHub cleaning up a start that never ran
            # (refused by this budget a moment ago: it polls and stops it first)
            continue
        q = getattr(sp, "quota", None)
        # not known (another spawner class): counted as a server, with no size
        found[key] = q if q is not None else Quota(mem_limit=0, cpu_limit=0.0)
    return found
