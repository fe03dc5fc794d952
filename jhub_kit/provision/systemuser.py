"""A Unix account and home per user, for spawners that run servers as system users.

Seed 000 runs ``adduser`` from a shell script in a ``pre_spawn_hook``; this
does it with an argument list and a name check, before the first spawn::

    from jhub_kit.provision import SystemUserProvisioner
    c.Spawner.pre_spawn_hook = SystemUserProvisioner(config=c).pre_spawn_hook
"""

from __future__ import annotations

import asyncio
import pwd
import re
from typing import Any

from traitlets import Unicode

from ..quota import Quota
from .base import HomeMount, HomeProvisioner, ProvisionError

# POSIX-portable user names, as useradd's default NAME_REGEX
UNIX_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")


class SystemUserProvisioner(HomeProvisioner):
    """``useradd --create-home`` when the account is missing."""

    backend = "system-user"

    shell = Unicode("/bin/bash", help="Login shell of created accounts.").tag(config=True)

    async def _provision(self, username: str, record: dict[str, Any], quota: Quota) -> HomeMount:
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
            entry = await asyncio.to_thread(pwd.getpwnam, username)
        record["home"] = entry.pw_dir
        return HomeMount(entry.pw_dir)

    async def _home_path(self, record: dict[str, Any]) -> Any:
        from pathlib import Path

        return Path(record["home"])
