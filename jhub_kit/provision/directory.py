"""A plain directory per user, owned by the server's uid/gid. No size limit."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ..quota.policy import Quota
from .base import HomeMount, HomeProvisioner, Undo, Usage, dir_size


class DirectoryProvisioner(HomeProvisioner):
    """``base_dir/<name>``, created before the first spawn with the right owner.

    Replaces the seeds' ``bootstrap.sh`` (``mkdir``/``chown`` in a shell). A
    home that Docker auto-created as root is handed to the user. No disk limit:
    use ``loopfile``, ``btrfs`` or ``lvm`` for that.
    """

    backend = "directory"

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        home = self.under(record["name"])
        if await asyncio.to_thread(
            self.ensure_dir, home, owner=(self.uid, self.gid), mode=self.mode
        ):
            undo.push(f"rmdir {home}", lambda: asyncio.to_thread(os.rmdir, home))
        if quota.disk_limit is not None and not record.get("warned_no_limit"):
            self.log.warning(
                "%s: disk_limit %s is not enforced by the directory provisioner; "
                "use loopfile, btrfs or lvm",
                username,
                quota.disk_limit,
            )
            record["warned_no_limit"] = True
        return HomeMount(str(home))

    async def _usage(self, record: dict[str, Any]) -> Usage:
        used = await asyncio.to_thread(dir_size, self.under(record["name"]))
        return Usage(used, None)
