"""Shared by the backends that put a filesystem on a block device or image file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyterhub.traitlets import ByteSpecification
from traitlets import CaselessStrEnum, List, Unicode

from .. import offloop
from .base import HomeProvisioner, ProvisionError, Usage
from .commands import CommandError
from .mounts import loop_devices, loop_shortage, mounted_at


class FilesystemProvisioner(HomeProvisioner):
    filesystem = CaselessStrEnum(
        ["ext4", "xfs"],
        default_value="ext4",
        help='Filesystem made for each home: ext4 or xfs. Example: ``"xfs"``.',
    ).tag(config=True)

    default_size = ByteSpecification(
        "1G",
        help="""Size of a home when the quota sets no ``disk_limit``. Example: ``"5G"``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    mount_options = List(
        Unicode(),
        default_value=["nosuid", "nodev"],
        help='Mount options for each home. Example: ``["nosuid", "nodev", "noatime"]``.',
    ).tag(config=True)

    async def fs_type(self, device: str | Path) -> str | None:
        """The filesystem blkid finds on ``device``, or None when there is none."""
        # blkid exits 2 when it finds nothing: https://man7.org/linux/man-pages/man8/blkid.8.html
        r = await self.run("blkid", "-p", "-o", "value", "-s", "TYPE", str(device), check=False)
        if r.returncode == 2:
            return None
        if r.returncode != 0:
            raise ProvisionError(f"blkid could not read {device}: {r.stderr.strip()}")
        return r.stdout.strip() or None

    async def mkfs(self, device: str | Path) -> None:
        """Make the filesystem. Callers check first that ``device`` holds none."""
        if self.filesystem == "ext4":
            # root_owner: the filesystem's top directory belongs to the user at once
            await self.run(
                "mkfs.ext4",
                "-q",
                "-F",
                "-m",
                "0",
                "-E",
                f"root_owner={self.uid}:{self.gid}",
                str(device),
            )
        else:
            await self.run("mkfs.xfs", "-q", str(device))

    async def mount(self, device: str | Path, mountpoint: Path, *, loop: bool = False) -> None:
        options = [*self.mount_options, *(["loop"] if loop else [])]
        try:
            await self.run("mount", "-o", ",".join(options), "--", str(device), str(mountpoint))
        except CommandError as e:
            shortage = None
            if loop:
                shortage = loop_shortage(await offloop.run_io(loop_devices), str(e))
            if shortage:
                # the host's fault, not the home's: refused as it is, nothing formatted
                raise ProvisionError(f"cannot mount {device}: {shortage}") from None
            raise

    async def umount(self, mountpoint: Path) -> None:
        await self.run("umount", "--", str(mountpoint))

    async def is_mounted(self, mountpoint: Path) -> bool:
        return await offloop.run_io(mounted_at, mountpoint) is not None

    async def mounted_source(self, mountpoint: Path) -> str | None:
        entry = await offloop.run_io(mounted_at, mountpoint)
        return entry.source if entry else None

    async def own_root(self, mountpoint: Path) -> None:
        """Give the mounted filesystem's top directory to the user (idempotent)."""

        def fix() -> None:
            st = os.stat(mountpoint)
            if (st.st_uid, st.st_gid) != (self.uid, self.gid):
                os.chown(mountpoint, self.uid, self.gid)
            if st.st_mode & 0o7777 != self.mode:
                os.chmod(mountpoint, self.mode)

        await offloop.run_io(fix)

    async def grow_fs(self, device: str, mountpoint: Path) -> None:
        """Grow the mounted filesystem to fill its (already larger) device."""
        if self.filesystem == "ext4":
            await self.run("resize2fs", device)
        else:
            await self.run("xfs_growfs", str(mountpoint))

    async def _usage(self, record: dict[str, Any]) -> Usage | None:
        # an unmounted home (after a reboot, until its next start) is an empty
        # directory on base_dir's filesystem: its statvfs would be that disk's
        if not await self.is_mounted(await self._home_path(record)):
            return None
        return await super()._usage(record)

    def record_size(self, record: dict[str, Any]) -> int:
        return int(record.get("size", 0))
