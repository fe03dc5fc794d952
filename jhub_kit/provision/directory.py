"""A plain directory per user, owned by the server's uid/gid. No size limit."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from traitlets import Int

from .. import offloop
from ..quota.policy import Quota
from .base import HomeMount, HomeProvisioner, Undo, Usage, dir_size


class DirectoryProvisioner(HomeProvisioner):
    """``base_dir/<name>``, created before the first spawn with the right owner.

    Replaces the seeds' ``bootstrap.sh`` (``mkdir``/``chown`` in a shell). A
    home that Docker auto-created as root is handed to the user. No disk limit:
    use ``loopfile``, ``btrfs`` or ``lvm`` for that.
    """

    backend = "directory"

    usage_max_entries = Int(
        200_000,
        help="""Most files and directories counted when a home is measured (the
        student's page and the dashboard show "at least" beyond it). A directory
        home is walked entry by entry, on a thread of its own, one home at a time:
        a home of a million small files costs its own measure a few seconds and
        nobody else's start anything. 0: no limit. Example: ``500000``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        home = await self.path_under(record["name"])
        if await offloop.run_io(self.ensure_dir, home, owner=(self.uid, self.gid), mode=self.mode):
            undo.push(f"rmdir {home}", lambda: offloop.run_io(os.rmdir, home))
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
        loop = asyncio.get_running_loop()
        home = await self.path_under(record["name"])
        used, complete = await loop.run_in_executor(_WALKER, dir_size, home, self.usage_max_entries)
        return Usage(used, None, partial=not complete)


#: measuring directory homes: one walk at a time, never on the threads that start
#: servers (the default executor, the engine's)
_WALKER = ThreadPoolExecutor(1, thread_name_prefix="jhub-kit-usage")
