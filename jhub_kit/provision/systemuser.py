"""A Unix account and home per user, for spawners that run servers as system users.

Seed 000 runs ``adduser`` from a shell script in a ``pre_spawn_hook``; this
does it with an argument list and a name check, before the first spawn::

    from jhub_kit.provision import pre_spawn_hook
    c.Spawner.pre_spawn_hook = pre_spawn_hook("system-user")
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
from pathlib import Path
from typing import Any

from traitlets import Unicode

from ..quota.policy import Quota
from .base import HomeMount, HomeProvisioner, ProvisionError, Undo

# POSIX-portable user names, as useradd's default NAME_REGEX
UNIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


class SystemUserProvisioner(HomeProvisioner):
    """``useradd --create-home`` when the account is missing."""

    backend = "system-user"

    shell = Unicode("/bin/bash", help="Login shell of created accounts.").tag(config=True)

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        if not UNIX_NAME.fullmatch(username):
            raise ProvisionError(
                f"{username!r} cannot be a Unix account name (lowercase letters, digits, "
                "'_' and '-', at most 32, not starting with a digit or '-')"
            )
        try:
            entry = await asyncio.to_thread(pwd.getpwnam, username)
        except KeyError:
            await self.run(
                "useradd", "--create-home", "--shell", self.shell, "--user-group", "--", username
            )
            undo.push(
                f"userdel {username}",
                lambda: self.run("userdel", "--remove", "--", username),
            )
            entry = await asyncio.to_thread(pwd.getpwnam, username)
        record.update(home=entry.pw_dir, user=username)
        return HomeMount(entry.pw_dir)

    async def _home_path(self, record: dict[str, Any]) -> Path:
        return Path(record["home"])

    async def _missing(self, record: dict[str, Any]) -> str | None:
        if record.get("user"):
            try:
                await asyncio.to_thread(pwd.getpwnam, record["user"])
            except KeyError:
                return f"its account {record['user']!r} is missing"
        if not await asyncio.to_thread(os.path.isdir, record["home"]):
            return f"its home directory {record['home']} is missing"
        return None
