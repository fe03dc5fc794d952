"""A sparse image file per user with ext4 or XFS, loop-mounted: a hard size limit.

Writing past the limit fails with "No space left on device" inside the
container and nowhere else. The image grows when the quota grows (online:
``truncate`` + ``losetup -c`` + ``resize2fs``/``xfs_growfs``) and never shrinks.
After a reboot, the next spawn finds the mount missing and mounts it again.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from .. import offloop
from ..quota.policy import Quota, format_size
from . import commands
from .base import HomeMount, HomeUnavailable, ProvisionError, Undo
from .blockfs import FilesystemProvisioner


class LoopfileProvisioner(FilesystemProvisioner):
    """Each home is ``base_dir/.images/<name>.img`` mounted at ``base_dir/<name>``."""

    backend = "loopfile"

    def image_path(self, record: dict[str, Any]) -> Path:
        return self.under(".images", f"{record['name']}.img")

    async def _missing(self, record: dict[str, Any]) -> str | None:
        image = await offloop.run_io(self.image_path, record)
        if not await offloop.run_io(os.path.lexists, image):
            return f"its image file {image} is missing"
        return None

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        size = int(quota.disk_limit or self.default_size)
        image = await offloop.run_io(self.image_path, record)
        home = await self.path_under(record["name"])
        await offloop.run_io(self.ensure_dir, image.parent, mode=0o700)
        created_image = await offloop.run_io(_create_sparse, image, size)
        if created_image:
            undo.push(f"remove {image}", lambda: offloop.run_io(image.unlink, True))
        fs = await self.fs_type(image)
        if fs is None:
            if not created_image and not undo.new_home:
                raise HomeUnavailable(
                    f"{image} exists but holds no filesystem; refusing to format it "
                    "(restore the home, or move the file away if it is not a home)"
                )
            await self.mkfs(image)
        elif fs != self.filesystem:
            raise ProvisionError(
                f"{image} holds {fs}, not {self.filesystem}; set "
                f"c.LoopfileProvisioner.filesystem = {fs!r} or migrate the home"
            )
        if await offloop.run_io(self.ensure_dir, home, owner=(self.uid, self.gid), mode=0o755):
            undo.push(f"rmdir {home}", lambda: offloop.run_io(os.rmdir, home))
        if not await self.is_mounted(home):
            if not created_image:
                self.log.info("%s: mounting %s again (after a reboot?)", username, image)
            try:
                await self.mount(image, home, loop=True)
            except commands.CommandError as e:
                if created_image:
                    raise
                raise HomeUnavailable(
                    f"{username}'s home image {image} will not mount ({e}); nothing was "
                    f"changed. Check it with `e2fsck -n {image}` (or xfs_repair -n), or run "
                    f"`jhub-kit home restore {username} ARCHIVE -f CONFIG`"
                ) from None
            undo.push(f"umount {home}", lambda: self.umount(home))
        await self.own_root(home)
        await self._grow(username, record, image, home, size)
        record.update(size=max(size, self.record_size(record)), filesystem=self.filesystem)
        return HomeMount(str(home))

    async def _grow(
        self, username: str, record: dict[str, Any], image: Path, home: Path, size: int
    ) -> None:
        current = (await offloop.run_io(os.stat, image)).st_size
        if size < current:
            if size < self.record_size(record):
                self.log.warning(
                    "%s: disk quota lowered to %s, but the home stays %s (homes never shrink)",
                    username,
                    format_size(size),
                    format_size(current),
                )
            return
        if size == current:
            return
        device = await self.mounted_source(home)
        if not device or not device.startswith("/dev/loop"):
            raise ProvisionError(f"{home} is not loop-mounted; cannot grow it")
        self.log.info(
            "%s: growing home %s -> %s", username, format_size(current), format_size(size)
        )
        await offloop.run_io(os.truncate, image, size)
        await self.run("losetup", "--set-capacity", device)
        try:
            await self.grow_fs(device, home)
        except commands.CommandError as e:
            if self.filesystem != "ext4":
                raise
            # online ext4 resizing needs CAP_SYS_RESOURCE; the home is not in use
            # before its container starts, so grow it offline instead
            self.log.info("%s: online resize refused (%s); resizing offline", username, e)
            try:
                await self.umount(home)
            except commands.CommandError as busy:
                raise ProvisionError(
                    f"cannot grow {username}'s home: it is in use ({busy}); stop their "
                    "other servers and start again"
                ) from None
            # e2fsck -p exits 1 when it fixed something, which is fine here
            r = await self.run("e2fsck", "-f", "-p", str(image), check=False)
            if r.returncode not in (0, 1):
                raise ProvisionError(f"e2fsck of {image} failed: {r.stdout}{r.stderr}") from e
            await self.run("resize2fs", str(image))
            await self.mount(image, home, loop=True)

    async def _destroy(self, record: dict[str, Any]) -> None:
        home = await self.path_under(record["name"])
        if await self.is_mounted(home):
            await self.umount(home)
        await offloop.run_io(os.rmdir, home)
        await offloop.run_io(lambda: self.image_path(record).unlink())


def _create_sparse(path: Path, size: int) -> bool:
    """Create a sparse file of ``size`` bytes; False if a regular file is already there."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ProvisionError(f"refusing {path}: not a regular file") from None
        return False
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    return True
