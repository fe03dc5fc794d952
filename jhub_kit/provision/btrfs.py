"""One btrfs filesystem for all users, a subvolume per user with a qgroup limit.

Scales to hundreds of students without a loop device each. Writing past the
limit fails with "Disk quota exceeded". The pool is a block device
(``pool_device``) or, by default, a sparse image file in ``base_dir``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyterhub.traitlets import ByteSpecification
from traitlets import Unicode

from .. import offloop
from ..deprecation import RenamedTraits
from ..quota.policy import Quota, format_size
from .base import HomeMount, HomeUnavailable, ProvisionError, Undo, Usage
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


class BtrfsProvisioner(RenamedTraits, FilesystemProvisioner):
    """Homes are subvolumes of the pool mounted at ``base_dir/.pool``."""

    backend = "btrfs"
    renamed_traits = {"pool_size": ("pool_image_size", "0.5")}

    pool_device = Unicode(
        "",
        help="""A block device holding (or to hold) the btrfs pool, e.g. ``"/dev/sdb"``.

        Empty (the default): a sparse image file ``base_dir/.btrfs-pool.img`` of
        :attr:`pool_image_size`. An existing filesystem is never reformatted.
        """,
    ).tag(config=True)

    pool_image_size = ByteSpecification(
        "100G",
        help="""Size of the sparse image file ``base_dir/.btrfs-pool.img`` that holds
        every home, when there is no :attr:`pool_device` (the homes' own sizes are
        :attr:`default_size` and the quotas' ``disk_limit``). Read when the image is
        made; an existing image keeps its size. Example: ``"500G"``.

        .. versionadded:: 0.5
           Named ``pool_size`` before 0.5 (the warm pool's ``pool_size`` counts
           servers), which still works with a warning.
        """,
    ).tag(config=True)

    def pool(self) -> Path:
        return self.under(POOL_DIR)

    def pool_image(self) -> Path:
        return self.under(".btrfs-pool.img")

    async def ensure_pool(self, *, create: bool = True) -> Path:
        """Mount the pool (made first if ``create`` and it does not exist)."""
        pool = await offloop.run_io(self.pool)
        await offloop.run_io(self.ensure_dir, pool, mode=0o711)
        if not await self.is_mounted(pool):
            if self.pool_device:
                device: str | Path = self.pool_device
                loop = False
            else:
                device = await offloop.run_io(self.pool_image)
                loop = True
                if not await offloop.run_io(os.path.lexists, device) and not create:
                    raise HomeUnavailable(
                        f"the btrfs pool image {device} that holds every home is missing; "
                        "nothing was created. Restore it (or mount its disk) and try again"
                    )
                await offloop.run_io(_create_sparse, device, int(self.pool_image_size))
            fs = await self.fs_type(device)
            if fs is None:
                if not create:
                    raise HomeUnavailable(
                        f"{device} holds no filesystem although homes were made on it; "
                        "refusing to format it"
                    )
                await self.run("mkfs.btrfs", "-q", str(device))
            elif fs != "btrfs":
                raise ProvisionError(f"{device} holds {fs}, not btrfs; refusing to format it")
            await self.mount(device, pool, loop=loop)
            # https://btrfs.readthedocs.io/en/latest/btrfs-quota.html
            await self.run("btrfs", "quota", "enable", str(pool))
        return pool

    async def _pool_may_be_created(self) -> bool:
        """Only while no home was ever finished on it (first provisions still running
        or cut short do not count): a pool that held homes is never made again."""
        users = await offloop.run_io(self.state.read)
        return all(r.get("creating") for r in users.values())

    async def _missing(self, record: dict[str, Any]) -> str | None:
        await self.ensure_pool(create=False)
        home = await self.path_under(POOL_DIR, record["name"])
        if not await offloop.run_io(os.path.lexists, home):
            return f"its subvolume {home} is missing"
        return None

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        size = int(quota.disk_limit or self.default_size)
        await self.ensure_pool(create=await self._pool_may_be_created())
        home = await self.path_under(POOL_DIR, record["name"])
        if not await offloop.run_io(os.path.lexists, home):
            await self.run("btrfs", "subvolume", "create", str(home))
            undo.push(
                f"delete subvolume {home}",
                lambda: self.run("btrfs", "subvolume", "delete", str(home)),
            )
        else:
            await offloop.run_io(self.ensure_dir, home, owner=(self.uid, self.gid))
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
        record.update(size=size)
        return HomeMount(str(home))

    async def _home_path(self, record: dict[str, Any]) -> Path:
        await self.ensure_pool(create=False)
        return await self.path_under(POOL_DIR, record["name"])

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
