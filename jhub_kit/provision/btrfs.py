"""One btrfs filesystem for all users, a subvolume per user with a qgroup limit.

Scales to hundreds of students without a loop device each. Writing past the
limit fails with "Disk quota exceeded". The pool is a block device
(``pool_device``) or, by default, a sparse image file in ``base_dir``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from jupyterhub.traitlets import ByteSpecification
from traitlets import Unicode

from ..quota import Quota, format_size
from .base import HomeMount, ProvisionError, Usage
from .blockfs import FilesystemProvisioner
from .loopfile import _create_sparse

POOL_DIR = ".pool"


def parse_qgroup_show(text: str) -> tuple[int, int | None] | None:
    """``(referenced bytes, limit or None)`` from ``btrfs qgroup show -reF --raw``."""
    for line in text.splitlines():
        cols = line.split()
        if len(cols) >= 4 and cols[0].startswith("0/") and cols[1].isdigit():
            limit = cols[3]
            return int(cols[1]), (int(limit) if limit.isdigit() else None)
    return None


class BtrfsProvisioner(FilesystemProvisioner):
    """Homes are subvolumes of the pool mounted at ``base_dir/.pool``."""

    backend = "btrfs"

    pool_device = Unicode(
        "",
        help="""A block device holding (or to hold) the btrfs pool, e.g. ``"/dev/sdb"``.

        Empty (the default): a sparse image file ``base_dir/.btrfs-pool.img`` of
        ``pool_size``. An existing filesystem is never reformatted.
        """,
    ).tag(config=True)

    pool_size = ByteSpecification(
        "100G",
        help='Size of the pool image file (sparse). Example: ``"500G"``.',
    ).tag(config=True)

    def pool(self) -> Path:
        return self.under(POOL_DIR)

    async def ensure_pool(self) -> Path:
        pool = self.pool()
        await asyncio.to_thread(self.ensure_dir, pool, mode=0o711)
        if not await self.is_mounted(pool):
            if self.pool_device:
                device: str | Path = self.pool_device
                loop = False
            else:
                device = self.under(".btrfs-pool.img")
                loop = True
                await asyncio.to_thread(_create_sparse, device, int(self.pool_size))
            fs = await self.fs_type(device)
            if fs is None:
                await self.run("mkfs.btrfs", "-q", str(device))
            elif fs != "btrfs":
                raise ProvisionError(f"{device} holds {fs}, not btrfs; refusing to format it")
            await self.mount(device, pool, loop=loop)
            # https://btrfs.readthedocs.io/en/latest/btrfs-quota.html
            await self.run("btrfs", "quota", "enable", str(pool))
        return pool

    async def _provision(self, username: str, record: dict[str, Any], quota: Quota) -> HomeMount:
        size = int(quota.disk_limit or self.default_size)
        await self.ensure_pool()
        home = self.under(POOL_DIR, record["name"])
        created = False
        try:
            if not await asyncio.to_thread(os.path.lexists, home):
                await self.run("btrfs", "subvolume", "create", str(home))
                created = True
            else:
                await asyncio.to_thread(self.ensure_dir, home, owner=(self.uid, self.gid))
            await self.own_root(home)
            old = self.record_size(record)
            if size < old:
                self.log.warning(
                    "%s: disk quota lowered to %s, but the home keeps %s (homes never shrink)",
                    username,
                    format_size(size),
                    format_size(old),
                )
                size = old
            await self.run("btrfs", "qgroup", "limit", str(size), str(home))
        except Exception as e:
            if created:
                try:
                    await self.run("btrfs", "subvolume", "delete", str(home))
                except Exception as e2:
                    self.log.error("Rollback of %s incomplete: %s", home, e2)
            if isinstance(e, ProvisionError):
                raise
            raise ProvisionError(f"could not provision {username}'s home: {e}") from e
        record.update(size=size)
        return HomeMount(str(home))

    async def _home_path(self, record: dict[str, Any]) -> Path:
        await self.ensure_pool()
        return self.under(POOL_DIR, record["name"])

    async def _usage(self, record: dict[str, Any]) -> Usage:
        home = await self._home_path(record)
        r = await self.run("btrfs", "qgroup", "show", "-reF", "--raw", str(home))
        parsed = parse_qgroup_show(r.stdout)
        if parsed is None:
            raise ProvisionError(f"cannot read the qgroup of {home}: {r.stdout.strip()}")
        return Usage(*parsed)

    async def _destroy(self, record: dict[str, Any]) -> None:
        home = await self._home_path(record)
        await self.run("btrfs", "subvolume", "delete", str(home))
