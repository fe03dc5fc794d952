"""The home provisioner interface and what every backend shares.

A provisioner makes sure a user's home exists, with the right owner and size,
before their server's container is created, and says what to mount:

- :meth:`HomeProvisioner.provision` (idempotent; grows, never shrinks),
- :meth:`HomeProvisioner.usage` (bytes used and the limit),
- :meth:`HomeProvisioner.deprovision` (archive, then remove; never automatic).

Usernames are hostile: every on-disk or Docker name comes from
:func:`jhub_kit.names.safe_name`, is recorded in a state file (so a later
naming change never orphans a home), and every path is checked to stay under
``base_dir``. A symlink or a foreign-owned directory where a home should be is
refused, not followed. One lock per user serializes provisioning.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import stat
import tarfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from traitlets import Float, Int, Unicode
from traitlets.config import LoggingConfigurable

from .. import offloop
from ..names import safe_name
from ..quota.policy import Quota
from . import commands
from .state import StateError, StateFile


class ProvisionError(RuntimeError):
    """Provisioning failed; the message says what happened and what to check.

    Every failure of :meth:`HomeProvisioner.provision`, ``usage``, ``backup``,
    ``restore``, ``deprovision`` and ``reset`` is one of these (or a subclass),
    whatever failed underneath: a command, the filesystem, the state file, Docker.
    ``user_message`` is what the student is shown; ``str()`` is for the admin.
    """

    user_message = "Your home directory could not be prepared; an administrator has been told why."


class HomeUnavailable(ProvisionError):
    """A home the state says exists is missing, or will not mount: refused, never
    re-created empty. The message names what is missing and what to run."""

    user_message = "Your home is unavailable; your teacher has been told."


class Undo:
    """What one call made, undone in reverse order if the call fails: the one
    rollback every backend shares. Steps are pushed right after each change."""

    def __init__(self, log: Any):
        self.log = log
        self._steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        #: True when finishing a first provision that was cut short (the hub killed
        #: mid-way; its record still says "creating"): what a backend finds then (an
        #: image without a filesystem, say) is that provision's leftover, ours to format.
        #: For a user with no record at all, what is found is not ours and is refused.
        self.new_home = False

    def push(self, what: str, step: Callable[[], Awaitable[Any]]) -> None:
        self._steps.append((what, step))

    async def run(self) -> None:
        while self._steps:
            what, step = self._steps.pop()
            try:
                await step()
            except Exception as e:  # report the original error; log this one
                self.log.error("Rollback step %r incomplete: %s", what, e)


def _nearly_full(path: str) -> bool:
    """Less than 1 MiB left for root on the filesystem holding ``path``."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bfree * st.f_frsize < 1024**2


def _explain(backend: str, action: str, username: str, base_dir: str, e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if (
        (isinstance(e, OSError) and e.errno == errno.ENOSPC)
        or "No space left on device" in text
        or _nearly_full(base_dir)
    ):
        return (
            f"cannot {action} {username}'s {backend} home: the disk holding {base_dir} is full "
            f"({text}); free space there, then try again"
        )
    if isinstance(e, OSError) and e.errno in (errno.EPERM, errno.EACCES):
        return (
            f"cannot {action} {username}'s {backend} home: permission denied ({text}); "
            "this provisioner needs the hub (or the CLI) to run as root"
        )
    return f"cannot {action} {username}'s {backend} home: {text}"


@dataclass(frozen=True)
class HomeMount:
    """What to mount as the user's home: a host path (``bind``) or a named volume."""

    source: str
    type: str = "bind"


#: a home with less than this many bytes free to its owner is full (:attr:`Usage.full`)
FULL_BYTES = 1024**2
#: a home with fewer free inodes than this is full: no file or folder can be made
FULL_FILES = 16


@dataclass(frozen=True)
class Usage:
    used: int
    limit: int | None
    #: the measure stopped early (a home of too many files): ``used`` is a lower bound
    partial: bool = False
    #: bytes the home's owner can still write, and files (inodes) they can still
    #: make, where the filesystem tells (statvfs' ``f_bavail``, ``f_favail``)
    free: int | None = None
    files_free: int | None = None

    @property
    def full(self) -> str:
        """Why nothing more fits in the home ("" when it is not full): ``"space"``
        (under :data:`FULL_BYTES` free: ext4 keeps blocks of its own, so a home
        is full before ``used`` reaches ``limit``) or ``"files"`` (no inode left)."""
        if self.free is not None and self.free < FULL_BYTES:
            return "space"
        if self.files_free is not None and self.files_free < FULL_FILES:
            return "files"
        return ""

    def to_state(self) -> dict[str, Any]:
        """What a server's state keeps of this measure (read back by :meth:`from_state`)."""
        out: dict[str, Any] = {"used": self.used, "limit": self.limit}
        if self.partial:
            out["partial"] = True
        if self.free is not None:
            out["free"] = self.free
        if self.files_free is not None:
            out["files_free"] = self.files_free
        return out

    @classmethod
    def from_state(cls, kept: Any) -> Usage | None:
        """The measure :meth:`to_state` kept (None when ``kept`` is not one)."""
        if not isinstance(kept, dict) or not isinstance(kept.get("used"), int):
            return None

        def count(key: str) -> int | None:
            value = kept.get(key)
            return value if isinstance(value, int) else None

        return cls(
            kept["used"],
            count("limit"),
            partial=bool(kept.get("partial")),
            free=count("free"),
            files_free=count("files_free"),
        )


class HomeProvisioner(LoggingConfigurable):
    """Base class of the home provisioners; see the backends for the disk limit each enforces."""

    backend = "base"

    base_dir = Unicode(
        "/srv/jupyterhub/homes",
        help="""Where homes (and the provisioner's state) live on the host.

        Example: ``c.HomeProvisioner.base_dir = "/srv/jupyterhub/homes"``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    uid = Int(
        1000,
        help="""Owner of each home: the uid the server runs as in the container.

        1000 is ``jovyan`` in the Jupyter Docker Stacks images (no more guessing
        ``USER_NOT_NAME``). Example: ``c.HomeProvisioner.uid = 1000``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    gid = Int(100, help="Group of each home (100 is ``users``). Example: ``100``.").tag(config=True)

    mode = Int(
        0o750,
        help="Permissions of each home's top directory. Example: ``0o750``.",
    ).tag(config=True)

    state_mirror = Unicode(
        "",
        help="""Where the copy of the provisioner's state is kept, outside ``base_dir``.

        Default: beside ``base_dir`` (``/srv/jupyterhub/.homes.jhub-kit-state.json``
        for ``/srv/jupyterhub/homes``). When ``base_dir`` is a mount point, this copy
        stays on the host's disk and tells the kit that homes were made there, so a
        disk that did not mount is refused instead of filled with empty homes.
        Example: ``"/var/lib/jhub-kit/homes-state.json"``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    command_timeout = Float(
        120.0,
        help="Seconds any single command (mkfs, mount, lvcreate...) may take. Example: ``60``.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._locks: dict[str, asyncio.Lock] = {}
        self.state = StateFile(
            Path(self.base_dir) / ".jhub-kit-state.json", self.state_mirror or None
        )

    # -- names and paths ---------------------------------------------------

    def base(self) -> Path:
        return Path(self.base_dir)

    def under(self, *parts: str) -> Path:
        """``base_dir/parts...``, refusing anything that could leave ``base_dir``.

        Each part is one plain name; the directories between ``base_dir`` and the
        last part must not lead elsewhere through symlinks. The last part itself
        is checked by whoever opens it (:meth:`ensure_dir` refuses symlinks).
        """
        for part in parts:
            if part in ("", ".", "..") or "/" in part or "\0" in part:
                raise ProvisionError(f"refusing unsafe path component {part!r}")
        base = self.base().resolve()
        path = base.joinpath(*parts)
        if os.path.commonpath([base, path.parent.resolve()]) != str(base):
            raise ProvisionError(f"{path} resolves outside {base}")
        return path

    async def path_under(self, *parts: str) -> Path:
        """:meth:`under` on an I/O thread, for code on the hub's event loop: its
        check resolves symlinks (a system call per directory, slow on a busy disk)."""
        return await offloop.run_io(self.under, *parts)

    def ensure_dir(
        self, path: Path, *, owner: tuple[int, int] | None = None, mode: int = 0o755
    ) -> bool:
        """Create ``path`` (one level) or check the existing one. Returns True if created.

        Refuses a symlink and a directory owned by someone other than root
        or ``owner``.
        """
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            try:
                os.mkdir(path, mode)
            except FileExistsError:
                st = os.lstat(path)  # made at the same moment by another provision
            else:
                os.chmod(path, mode)  # not subject to umask
                if owner:
                    os.chown(path, *owner, follow_symlinks=False)
                return True
        if stat.S_ISLNK(st.st_mode):
            raise ProvisionError(f"refusing {path}: it is a symlink")
        if not stat.S_ISDIR(st.st_mode):
            raise ProvisionError(f"refusing {path}: it exists and is not a directory")
        allowed = {0} | ({owner[0]} if owner else set())
        if owner and st.st_uid == 0 and st.st_gid == 0:
            # e.g. auto-created by Docker's legacy binds: the classic "permission denied"
            os.chown(path, *owner, follow_symlinks=False)
            os.chmod(path, mode)
            return False
        if st.st_uid not in allowed:
            raise ProvisionError(
                f"refusing {path}: owned by uid {st.st_uid}, expected "
                + " or ".join(str(u) for u in sorted(allowed))
            )
        return False

    async def run(self, *argv: str, **kw: Any) -> commands.Result:
        kw.setdefault("timeout", self.command_timeout)
        return await commands.run(*argv, **kw)

    # -- the interface -------------------------------------------------------

    def _lock(self, username: str) -> asyncio.Lock:
        lock = self._locks.get(username)
        if lock is None:
            lock = self._locks[username] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def _failures(self, action: str, username: str) -> AsyncIterator[Undo]:
        """The error contract: whatever fails inside is undone and becomes a ProvisionError."""
        undo = Undo(self.log)
        try:
            yield undo
        except asyncio.CancelledError:
            await undo.run()
            raise
        except Exception as e:
            await undo.run()
            if isinstance(e, ProvisionError):
                raise
            raise ProvisionError(_explain(self.backend, action, username, self.base_dir, e)) from e

    async def _get(self, username: str) -> dict[str, Any] | None:
        try:
            return await offloop.run_io(self.state.get, username)
        except StateError as e:
            raise HomeUnavailable(str(e)) from None

    async def _record(self, username: str) -> tuple[dict[str, Any], bool]:
        """The user's state record, and whether it is new (not yet saved)."""
        record = await self._get(username)
        if record is None:
            return {"name": safe_name(username), "backend": self.backend}, True
        if record.get("backend") != self.backend:
            raise ProvisionError(
                f"{username}'s home was made by the {record.get('backend')!r} provisioner, "
                f"not {self.backend!r}; migrate it before switching"
            )
        return record, False

    async def provision(self, username: str, quota: Quota, *, recreate: bool = False) -> HomeMount:
        """Make sure ``username``'s home exists, is mounted and is big enough.

        A home the state lists whose backing object (image, volume, subvolume,
        logical volume, directory) is gone raises :class:`HomeUnavailable`
        instead of making an empty one, unless ``recreate`` (what ``restore`` does).
        """
        async with self._lock(username), self._failures("provision", username) as undo:
            await offloop.run_io(self._ensure_base)
            record, new = await self._record(username)
            # a record still marked "creating": our own first provision was cut short
            undo.new_home = not new and bool(record.get("creating"))
            if not new and not undo.new_home and not recreate:
                missing = await self._missing(record)
                if missing:
                    raise HomeUnavailable(self._unavailable(username, record, missing))
            if new:
                # recorded before anything is made: a first provision cut short (kill -9)
                # leaves a record saying the half-made home is ours to finish
                record["creating"] = True
                await offloop.run_io(self.state.put, username, record)
                # a failed first provision (rolled back) leaves no record; what a failed
                # rollback left behind is then refused as not ours, never formatted
                undo.push("forget the record", lambda: offloop.run_io(self.state.remove, username))
            before = dict(record)
            mount = await self._provision(username, record, quota, undo)
            record.pop("creating", None)
            if record != before:  # the name is pinned from the first provision on
                await offloop.run_io(self.state.put, username, record)
            return mount

    def _unavailable(self, username: str, record: dict[str, Any], missing: str) -> str:
        return (
            f"{username}'s home is unavailable: {missing}, although the state lists it "
            f"({self.backend}, name {record.get('name')!r}, size "
            f"{record.get('size', 'unlimited')}). Nothing was created. Bring it back (mount "
            f"its disk), or run `jhub-kit home restore {username} ARCHIVE -f CONFIG`, or "
            f"`jhub-kit home reset {username} -f CONFIG` to start them on an empty home"
        )

    async def check(self, username: str) -> str | None:
        """What is wrong with a listed home (missing object, state refused), or None."""
        try:
            record = await self._get(username)
            if record is None:
                return f"{username} has no home here"
            missing = await self._missing(record)
        except ProvisionError as e:
            return str(e)
        except Exception as e:
            return _explain(self.backend, "check", username, self.base_dir, e)
        return self._unavailable(username, record, missing) if missing else None

    async def users(self) -> list[str]:
        """Every user the state lists."""
        async with self._failures("list", "every user"):
            try:
                return sorted(await offloop.run_io(self.state.read))
            except StateError as e:
                raise HomeUnavailable(str(e)) from None

    async def homes_of(self, username: str) -> list[str]:
        """``username``'s home and the homes of their named servers the state lists
        (``USER/SERVER``, made with ``home_per_server``): what removing the user
        removes. The user's own name comes first, listed or not."""
        servers = [k for k in await self.users() if k.startswith(username + "/")]
        return [username, *servers]

    async def reset(self, username: str) -> dict[str, Any]:
        """Forget a home whose backing object is gone, so the next spawn makes a fresh one.

        The record is kept in the state's ``retired`` list. Refused while the home
        still exists: ``deprovision`` archives and removes a home that is there.
        """
        async with self._lock(username), self._failures("reset", username):
            record = await self._get(username)
            if record is None:
                raise ProvisionError(
                    f"{username} has no home here ({self.backend} in {self.base_dir})"
                )
            self._refuse_untouchable(username, record)
            if not await self._missing(record):
                raise ProvisionError(
                    f"{username}'s home is there, not missing; nothing reset. To archive and "
                    f"remove it use `jhub-kit users remove {username}`"
                )
            retired = await offloop.run_io(self.state.retire, username, "reset: home missing")
            assert retired is not None
            return retired

    def _ensure_base(self) -> None:
        parent = self.base().parent
        if not parent.exists():
            os.makedirs(parent, 0o755, exist_ok=True)
        self.ensure_dir(self.base(), mode=0o711)

    async def pre_spawn_hook(self, spawner: Any) -> None:
        """Provision as a ``c.Spawner.pre_spawn_hook``, for spawners other than the kit's.

        A DockerSpawner also gets the home added to its ``volumes``, at its
        ``notebook_dir`` (or ``/home/jovyan``).
        """
        disk = getattr(spawner, "disk_limit", None)
        mount = await self.provision(spawner.user.name, Quota(disk_limit=disk))
        if isinstance(getattr(spawner, "volumes", None), dict):
            target = getattr(spawner, "notebook_dir", "") or "/home/jovyan"
            spawner.volumes = {**spawner.volumes, mount.source: target}

    async def home_path(self, username: str, *, recreate: bool = False) -> Path:
        """Where ``username``'s home is on this host, mounted (again) if need be."""
        record = await self._get(username)
        if record is None:
            raise ProvisionError(f"{username} has no home here ({self.backend} in {self.base_dir})")
        size = record.get("size")
        await self.provision(
            username, Quota(disk_limit=int(size) if size else None), recreate=recreate
        )
        async with self._failures("find", username):
            return Path(await self._home_path(record))

    async def backup(self, username: str, dest: str | os.PathLike[str]) -> Path:
        """Write ``username``'s home as a .tar.gz (mode 0600) to ``dest``."""
        home = await self.home_path(username)
        record = await self._get(username)
        async with self._failures("back up", username):
            await offloop.run_io(_archive, home, Path(dest), self.owner_of(username, record))
        return Path(dest)

    async def restore(
        self, username: str, archive: str | os.PathLike[str], *, force: bool = False
    ) -> Path:
        """Unpack ``archive`` into ``username``'s home, owned by the user.

        Makes the home if it is missing (also one the state lists whose disk
        object is gone: that is what restoring is for). Refuses a home that
        already holds files unless ``force``.
        """
        if await self._get(username) is None:
            await self.provision(username, Quota())
        record = await self._get(username)
        if record is not None:
            self._refuse_untouchable(username, record)
        home = await self.home_path(username, recreate=True)
        async with self._failures("restore", username):
            owner = self.owner_of(username, record)
            await offloop.run_io(_unpack, Path(archive), home, owner, force)
        return home

    async def usage(self, username: str) -> Usage | None:
        record = await self._get(username)
        if record is None:
            return None
        async with self._failures("measure", username):
            return await self._usage(record)

    async def deprovision(self, username: str, archive_dir: str | os.PathLike[str]) -> Path | None:
        """Archive ``username``'s home into ``archive_dir`` (a .tar.gz), then remove it."""
        async with self._lock(username), self._failures("remove", username):
            record = await self._get(username)
            if record is None:
                return None
            self._refuse_untouchable(username, record)
            home = await self._home_path(record)
            archive = (
                Path(archive_dir) / f"{record['name']}-{time.strftime('%Y%m%dT%H%M%S')}.tar.gz"
            )
            await offloop.run_io(_archive, home, archive, self.owner_of(username, record))
            await self._destroy(record)
            await offloop.run_io(self.state.remove, username)
            return archive

    async def owner(self, username: str) -> tuple[int, int]:
        """Who owns ``username``'s home's files: what its archives are read and written as."""
        return self.owner_of(username, await self._get(username))

    async def why_untouchable(self, username: str) -> str | None:
        """Why emptying, removing or restoring ``username``'s home is refused (None: allowed)."""
        record = await self._get(username)
        return None if record is None else self.may_touch(username, record)

    def owner_of(self, username: str, record: dict[str, Any] | None) -> tuple[int, int]:
        """Who owns the home's files (the backends' homes: ``uid:gid``)."""
        return (self.uid, self.gid)

    def in_use_here(self, home: Path) -> list[str]:
        """Other places this host has ``home`` mounted (a warm pool member's slot:
        its server is running); a container's own mounts are the engine's to tell."""
        from .mounts import mounted_elsewhere

        return mounted_elsewhere(str(home))

    def may_touch(self, username: str, record: dict[str, Any]) -> str | None:
        """Why removing, resetting or restoring this home is refused (None: allowed).
        Every home of these backends is the kit's own, under ``base_dir``."""
        return None

    def _refuse_untouchable(self, username: str, record: dict[str, Any]) -> None:
        why = self.may_touch(username, record)
        if why:
            raise ProvisionError(f"refusing to touch {username}'s home: {why}")

    # -- for backends --------------------------------------------------------

    async def _provision(
        self, username: str, record: dict[str, Any], quota: Quota, undo: Undo
    ) -> HomeMount:
        """Make or check the home; push an undo step right after each change."""
        raise NotImplementedError

    async def _missing(self, record: dict[str, Any]) -> str | None:
        """What of a listed home is gone (e.g. ``"image file /x.img is missing"``), or None."""
        home = await self.path_under(record["name"])
        if not await offloop.run_io(os.path.lexists, home):
            return f"its directory {home} is missing"
        return None

    async def _usage(self, record: dict[str, Any]) -> Usage | None:
        """Bytes used and the limit; None when it cannot be told now."""
        home = await self._home_path(record)
        st = await offloop.run_io(os.statvfs, home)
        return Usage(
            (st.f_blocks - st.f_bfree) * st.f_frsize,
            st.f_blocks * st.f_frsize,
            free=st.f_bavail * st.f_frsize,
            files_free=st.f_favail if st.f_files else None,  # 0 inodes: none counted (btrfs)
        )

    async def _home_path(self, record: dict[str, Any]) -> Path:
        return await self.path_under(record["name"])

    async def _destroy(self, record: dict[str, Any]) -> None:
        home = await self._home_path(record)
        await offloop.run_io(shutil.rmtree, home)


def as_owner(owner: tuple[int, int], fn: Callable[..., None], *args: Any) -> None:
    """Run ``fn(*args)`` in a child process that is the home's owner (uid, gid, no
    other group) before it touches anything: a path the student swaps for a link
    while it runs leads only where the student could go anyway. The child is a
    fork of this process (its Python need not be readable by the owner); what it
    raises comes back as an :class:`OwnerProcessError` with its message."""
    import bz2  # noqa: F401 - what tarfile may import, imported before the child may
    import gzip  # noqa: F401 - no longer read the Python it runs on
    import lzma  # noqa: F401

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(owner[1])
            os.setuid(owner[0])
            fn(*args)
        except BaseException as e:
            said = str(e) if isinstance(e, ProvisionError) else f"{type(e).__name__}: {e}"
            os.write(write, said.encode()[:4000])
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as r:
        message = r.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OwnerProcessError(
            f"{message or f'ended with {status}'} (working as the home's owner, "
            f"uid {owner[0]} gid {owner[1]})"
        )


class OwnerProcessError(Exception):
    """What the owner's child process (:func:`as_owner`) raised, in its words; the
    provisioner's error contract names the home and the action around it."""


def _archive(src: Path, dest: Path, owner: tuple[int, int]) -> None:
    """``src`` as a .tar.gz at ``dest`` (root's, 0600), read as ``owner``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        as_owner(owner, _write_tar, fd, str(src))
    except BaseException:
        os.close(fd)
        dest.unlink()
        raise
    os.close(fd)


def _not_the_filesystems(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """A home that is a filesystem of its own (loopfile, lvm) has ext4's root-only
    ``lost+found`` at its top: not the student's, and not readable as them."""
    return None if info.name == "./lost+found" and info.isdir() else info


def _write_tar(fd: int, src: str) -> None:
    with os.fdopen(fd, "wb", closefd=False) as f, tarfile.open(fileobj=f, mode="w:gz") as tar:
        tar.add(src, arcname=".", filter=_not_the_filesystems)


def _unpack(archive: Path, home: Path, owner: tuple[int, int], force: bool) -> None:
    """Unpack ``archive`` into ``home`` as ``owner``: what the student could write,
    and only that; the archive is opened here, as root."""
    fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        as_owner(owner, _extract, fd, str(home), force)
    finally:
        os.close(fd)


def _extract(fd: int, home: str, force: bool) -> None:
    present = [p for p in os.listdir(home) if p != "lost+found"]
    if present and not force:
        raise ProvisionError(
            f"{home} is not empty ({len(present)} entries); pass --force to unpack over it"
        )
    with os.fdopen(fd, "rb", closefd=False) as f, tarfile.open(fileobj=f, mode="r:*") as tar:
        # the "data" filter refuses absolute paths, links out of the tree, devices
        tar.extractall(home, filter="data")


def dir_size(path: Path, max_entries: int = 0) -> tuple[int, bool]:
    """Bytes used under ``path`` (no symlinks followed), and whether every entry was
    counted: the walk stops after ``max_entries`` entries (0: no limit), so a home
    of a million small files costs bounded time."""
    total, seen = 0, 0
    stack = [str(path)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                total += st.st_blocks * 512
                seen += 1
                if max_entries and seen >= max_entries:
                    return total, False
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
    return total, True
