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

        async def resolve_quota_for_spawn(self) -> Quota: ...
        def resolve_quota_now(self) -> Quota | None: ...

    async def run_pre_spawn_hook(self) -> Any:
        await self.check_budget()
        return await maybe_future(super().run_pre_spawn_hook())

    def _other_servers(self) -> list[Any]:
        """The user's other servers that run or are starting."""
        spawners = getattr(self.user, "spawners", None) or {}
        return [sp for sp in list(spawners.values()) if sp is not self and sp.active]

    async def check_budget(self) -> None:
        quota = await self.resolve_quota_for_spawn()
        if quota.max_servers is None and quota.mem_budget is None and quota.cpu_budget is None:
            return
        running = []
        for sp in self._other_servers():
            # a running server's own quota; one still starting: what it will get
            q = getattr(sp, "quota", None) if getattr(sp, "ready", False) else None
            if q is None and hasattr(sp, "resolve_quota_now"):
                q = sp.resolve_quota_now()
            running.append(q if q is not None else Quota(swap_limit=None))
        why = budget_refusal(quota, running)
        if why:
            self.log.warning("Start of %s refused by the user's budget: %s", self._log_name, why)
            metrics.count_refusal("budget")
            raise SpawnException(why, reason="budget", status_code=400)
