"""The user's budget across their servers, checked as each start begins (before
``pre_spawn_hook``): a start beyond ``max_servers``, ``mem_budget`` or ``cpu_budget``
is refused with HTTP 400 in words and nothing is created. The arithmetic is
:mod:`jhub_kit.quota.budget`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyterhub.utils import maybe_future

from .. import metrics
from ..compat import SpawnException
from ..quota.budget import budget_refusal
from ..quota.policy import Quota

if TYPE_CHECKING:
    from jupyterhub.spawner import Spawner as _Base
else:
    from traitlets.config import LoggingConfigurable as _Base


class BudgetMixin(_Base):
    """Refuse a start that does not fit the user's budget."""

    if TYPE_CHECKING:
        quota: Quota | None
        quota_groups: dict[str, Any]
        quota_users: dict[str, Any]
        quota_policy_file: str

        async def resolve_quota_for_spawn(self) -> Quota: ...

    async def run_pre_spawn_hook(self) -> Any:
        """The admin's ``pre_spawn_hook`` (after the profile), then the budget, with
        the limits as the hook left them."""
        result = await maybe_future(super().run_pre_spawn_hook())
        await self.check_budget()
        return result

    _budget_quota: Quota | None = None
    """The quota this start was checked with (what it will get)."""

    def _other_servers(self) -> list[Any]:
        """The user's other servers that run or are starting."""
        spawners = getattr(self.user, "spawners", None) or {}
        return [sp for sp in list(spawners.values()) if sp is not self and sp.active]

    def _budget_configured(self) -> bool:
        """Whether any budget key is set (else a start resolves no quota here)."""
        keys = ("max_servers", "mem_budget", "cpu_budget")
        if any(getattr(self, k, None) is not None for k in keys):
            return True
        entries = [*self.quota_groups.values(), *self.quota_users.values()]
        return bool(self.quota_policy_file) or any(k in e for e in entries for k in keys)

    async def check_budget(self) -> None:
        self._budget_quota = None
        if not self._budget_configured():
            return
        quota = self._budget_quota = await self.resolve_quota_for_spawn()
        if quota.max_servers is None and quota.mem_budget is None and quota.cpu_budget is None:
            return
        running = []
        for sp in self._other_servers():
            # a running server's own quota; one still starting: what it was checked with
            q = getattr(sp, "quota", None) if getattr(sp, "ready", False) else None
            if q is None:
                q = getattr(sp, "_budget_quota", None) or getattr(sp, "quota", None)
            # not known (another spawner class): counted as a server, with no size
            running.append(q if q is not None else Quota(mem_limit=0, cpu_limit=0.0))
        why = budget_refusal(quota, running)
        if why:
            self.log.warning("Start of %s refused by the user's budget: %s", self._log_name, why)
            metrics.count_refusal("budget")
            raise SpawnException(why, reason="budget", status_code=400)
