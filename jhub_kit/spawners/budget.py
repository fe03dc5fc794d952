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
start never counts itself."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from .. import metrics, registry
from ..compat import SpawnException
from ..quota.budget import BudgetLedger
from ..quota.policy import Quota

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base
else:
    from traitlets.config import LoggingConfigurable as _Base


class BudgetMixin(_Base):
    """Refuse a start that does not fit the user's budget."""

    _budget_quota: Quota | None = None
    """The quota this start was checked with (what it will get)."""

    _budget_ticket: int | None = None
    """This server's place in the user's budget, from the check until it stops."""

    def budget_ledger(self) -> BudgetLedger:
        """The hub's reservations (one ledger per hub, shared by every user's spawner)."""
        ledger: BudgetLedger = registry.shared("budget-ledger", self.config, BudgetLedger)
        return ledger

    def _unreserved_servers(self, held: dict[Hashable, Quota]) -> dict[Hashable, Quota]:
        """The user's other servers that run without a place in the ledger (started
        before this hub process, or stopping), with their quotas. One still starting
        and not yet checked is left out: it is checked in its turn; so is one being
        stopped that never ran (the cleanup of a refused start)."""
        spawners = getattr(self.user, "spawners", None) or {}
        found: dict[Hashable, Quota] = {}
        for key, sp in list(spawners.items()):
            if sp is self or key in held or not sp.active:
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

    def budget_quota(self) -> Quota | None:
        """The quota this start was admitted with (the start runs with it, so the
        ledger holds what the server gets), or None where no budget is configured."""
        return self._budget_quota

    def release_budget(self) -> None:
        """Give this server's place in the user's budget back (it stopped, or its
        start failed); nothing if it holds none."""
        ticket, self._budget_ticket = self._budget_ticket, None
        self._budget_quota = None
        if ticket is not None:
            self.budget_ledger().release(self.user.name, self.name, ticket)

    async def check_budget(self) -> None:
        """Admit this start against the user's budget (if one is configured) and
        hold its place, or refuse it with HTTP 400 naming how many servers the user
        really runs. The quota it is admitted with is the one the start runs with."""
        self.release_budget()  # an earlier start of this server that left one
        if self.budget_configured():
            self.admit_to_budget(await self.resolve_quota_for_spawn())

    def admit_to_budget(self, quota: Quota) -> None:
        """Admit a start that will run with ``quota``, or refuse it (HTTP 400)."""
        # from here to the reservation nothing waits: no other start runs between
        ledger = self.budget_ledger()
        user = self.user.name
        spawners = getattr(self.user, "spawners", None) or {}
        alive = {k for k, sp in list(spawners.items()) if sp is not self and sp.active}
        stale = ledger.keep_only(user, alive | {self.name})
        if stale:
            self.log.debug("Budget of %s: places of gone servers %s freed", user, stale)
        unreserved = self._unreserved_servers(ledger.held(user))
        ticket, why = ledger.admit(user, self.name, quota, unreserved)
        if why:
            self.log.warning("Start of %s refused by the user's budget: %s", self._log_name, why)
            metrics.count_refusal("budget")
            raise SpawnException(why, reason="budget", status_code=400)
        self._budget_ticket = ticket
        self._budget_quota = quota

    def clear_state(self) -> None:
        super().clear_state()
        self.release_budget()
