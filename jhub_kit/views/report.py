"""Per-user quota rows: what ``jhub-kit quota report`` prints and the class
dashboard shows, computed one way from the hub's config and users."""

from __future__ import annotations

from typing import Any

from traitlets.config import Config

from .. import resolve
from ..provision import HomeProvisioner, ProvisionError
from ..quota.policy import Quota, format_size


def quota_columns(quota: Quota) -> dict[str, str]:
    return {
        "memory": format_size(quota.mem_limit),
        "cpu": "unlimited" if quota.cpu_limit is None else f"{quota.cpu_limit:g}",
        "pids": "unlimited" if quota.pids_limit is None else str(quota.pids_limit),
    }


async def quota_rows(
    config: Config, users: list[dict[str, Any]], prov: HomeProvisioner | None
) -> list[dict[str, Any]]:
    """One row per hub user model (sorted by name): resolved quota, disk used /
    limit from the provisioner ("-" where it cannot be told), server running."""
    rows = []
    for u in sorted(users, key=lambda u: u["name"]):
        groups = u.get("groups") or []
        q = await resolve.quota_for(config, u["name"], groups)
        usage = None
        if prov is not None:
            try:
                usage = await prov.usage(u["name"])
            except ProvisionError:
                usage = None
        rows.append(
            {
                "user": u["name"],
                "groups": ",".join(groups),
                **quota_columns(q),
                "disk_used": ("≥ " if usage and usage.partial else "")
                + (format_size(usage.used) if usage else "-"),
                # the quota (what was promised) where it sets one; the filesystem's
                # own size is a little less (its metadata)
                "disk_limit": format_size(q.disk_limit)
                if q.disk_limit or not (usage and usage.limit)
                else format_size(usage.limit),
                "running": bool((u.get("servers") or {}).get("", {}).get("ready")),
            }
        )
    return rows
