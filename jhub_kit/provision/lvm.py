"""One LVM logical volume per user in a volume group: mkfs, mount, grow online.

The seed's shell script, done right: names are safe, ``mkfs`` only runs on a
volume with no filesystem, the owner is set by ``mkfs.ext4 -E root_owner``
(no ``USER_NOT_NAME`` guessing), no boot script is edited (the next spawn
activates and mounts a volume that a reboot left unmounted), and growth is
``lvextend --resizefs``. Commands: lvm(8), lvcreate(8), lvextend(8).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Unicode

from .. import offloop
from ..quota.policy import Quota, format_size
from .base import HomeMount, HomeUnavailable, ProvisionError, Undo
from .blockfs import FilesystemProvisioner

LV_PREFIX = "jhub-"  # keeps clear of LVM's reserved names (snapshot, pvmove, ...)


class LvmProvisioner(FilesystemProvisioner):
    """Each home is the logical volume ``VG/jhub-<name>`` mounted at ``base_dir/<name>``."""

    backend = "lvm"

    volume_group = Unicode(
        "",
        help='The LVM volume group holding the homes. Example: ``"user_vg"``.',
    ).tag(config=True)

    disable_udev = Bool(
        False,
        help="""Set ``DM_DISABLE_UDEV=1`` for LVM commands, for hosts without udev
        (containers, minimal VMs), where lvcreate would otherwise wait forever.""",
    ).tag(config=True)

    lv_prefix = Unicode(
        LV_PREFIX,
        help="""What each logical volume's name starts with, before the home's safe
        name: it keeps clear of LVM's reserved names (``snapshot``, ``pvmove``) and
        of other provisioners' volumes in the same group (the course folders'
        provisioner uses ``"jhubcourse-"``). Changing it orphans the volumes made
        before. Example: ``"jhub-"``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    def lv_name(self, record: dict[str, Any]) -> str:
        return self.lv_prefix + record["name"]

    def device(self, record: dict[str, Any]) -> str:
        return f"/dev/{self.volume_group}/{self.lv_name(record)}"

    async def lvm(self, *argv: str, check: bool = True) -> Any:
        env = {"DM_DISABLE_UDEV": "1"} if self.disable_udev else None
        return await self.run(*argv, env=env, check=check)

    async def lv_size(self, record: dict[str, Any]) -> int | None:
        """The volume's size in bytes, or None if it does not exist."""
        r = await self.lvm(
            "lvs",
            "--noheadings",
            "--nosuffix",
            "--units",
            "b",
            "-o",
            "lv_size",
            f"{self.volume_group}/{self.lv_name(record)}",
            check=False,
        )
        if r.returncode != 0:
            if "not found" in r.stderr or "Failed to find" in r.stderr:
                return None
            raise ProvisionError(f"lvs failed: {r.stderr.strip()}")
        return int(r.stdout.strip())

    async def _missing(self, record: dict[str, Any]) -> str | None:
        if await self.lv_size(record) is None:
            return f"its logical volume {self.volume_group}/{self.lv_name(record)} is missing"
        return None

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        if not self.volume_group:
            raise ProvisionError("set c.LvmProvisioner.volume_group to the volume group's name")
        size = int(quota.disk_limit or self.default_size)
        home = await self.path_under(record["name"])
        device = self.device(record)
        lv = f"{self.volume_group}/{self.lv_name(record)}"
        current = await self.lv_size(record)
        created_lv = current is None
        if current is None:
            await self.lvcreate(record, size)
            undo.push(f"lvremove {lv}", lambda: self.lvm("lvremove", "--yes", lv))
            current = size
        else:
            await self.lvm("lvchange", "--activate", "y", lv)
        fs = await self.fs_type(device)
        if fs is None:
            if not created_lv and not undo.new_home:
                raise HomeUnavailable(
                    f"{device} exists but holds no filesystem; refusing to format it"
                )
            await self.mkfs(device)
        elif fs != self.filesystem:
            raise ProvisionError(f"{device} holds {fs}, not {self.filesystem}")
        if await offloop.run_io(self.ensure_dir, home, owner=(self.uid, self.gid), mode=0o755):
            undo.push(f"rmdir {home}", lambda: offloop.run_io(os.rmdir, home))
        if not await self.is_mounted(home):
            await self.mount(device, home)
            undo.push(f"umount {home}", lambda: self.umount(home))
        await self.own_root(home)
        if size > current:
            self.log.info(
                "%s: growing home %s -> %s", username, format_size(current), format_size(size)
            )
            await self.lvm("lvextend", "--resizefs", "-L", f"{size}b", lv)
        elif size < current and size < self.record_size(record):
            self.log.warning(
                "%s: disk quota lowered to %s, but the home stays %s (homes never shrink)",
                username,
                format_size(size),
                format_size(current),
            )
        record.update(size=max(size, current, self.record_size(record)), lv=self.lv_name(record))
        return HomeMount(str(home))

    async def lvcreate(self, record: dict[str, Any], size: int) -> None:
        lv = self.lv_name(record)
        r = await self.lvm(
            "lvcreate",
            "--yes",
            "--wipesignatures",
            "y",
            "-L",
            f"{size}b",
            "-n",
            lv,
            self.volume_group,
            check=False,
        )
        if r.returncode == 0:
            return
        if "insufficient free space" in r.stderr.lower() or "free space" in r.stderr.lower():
            free = await self.lvm(
                "vgs",
                "--noheadings",
                "--units",
                "m",
                "-o",
                "vg_free",
                self.volume_group,
                check=False,
            )
            raise ProvisionError(
                f"volume group {self.volume_group} is full: {format_size(size)} asked for "
                f"{lv}, {free.stdout.strip() or 'unknown'} free. Add a disk to the group "
                "(vgextend) or lower disk_limit"
            )
        detail = r.stderr.strip() or r.stdout.strip() or "no output"
        raise ProvisionError(f"lvcreate of {lv} in {self.volume_group} failed: {detail}")

    async def _destroy(self, record: dict[str, Any]) -> None:
        home: Path = await self.path_under(record["name"])
        if await self.is_mounted(home):
            await self.umount(home)
        await self.lvm("lvremove", "--yes", f"{self.volume_group}/{self.lv_name(record)}")
        await offloop.run_io(os.rmdir, home)
