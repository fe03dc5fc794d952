"""A tree of files at the end of term, shared by the students' homes
(:mod:`.archive`) and the course's nbgrader data (:mod:`.nbgrader_term`): walked
and opened without following a link, an archive's members as files of the tree,
failures named, and removed only where it is still what its archive lists.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from .base import OwnerProcessError, ProvisionError

Listing = dict[str, dict[str, Any]]

#: a folder opened without following a link
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

TYPES = {
    stat.S_IFDIR: "dir",
    stat.S_IFREG: "file",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
}


def walk(top: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """``(relative path, path, lstat)`` of everything under ``top``, a folder's
    entries before what is inside them, sorted; never through a link, and not
    ext4's ``lost+found`` at the top (root's, not the student's)."""
    stack = [""]
    while stack:
        rel = stack.pop()
        folder = os.path.join(top, rel) if rel else top
        with os.scandir(folder) as it:
            names = sorted(e.name for e in it)
        subdirs = []
        for name in names:
            r = f"{rel}/{name}" if rel else name
            path = os.path.join(top, r)
            st = os.lstat(path)
            if not rel and name == "lost+found" and stat.S_ISDIR(st.st_mode):
                continue
            yield r, path, st
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(r)
        stack.extend(reversed(subdirs))


def stat_entry(st: os.stat_result) -> dict[str, Any]:
    """What a listing says of every entry: type, permission bits, mtime, owner."""
    return {
        "type": TYPES[stat.S_IFMT(st.st_mode)],
        "mode": stat.S_IMODE(st.st_mode),
        "mtime_ns": st.st_mtime_ns,
        "uid": st.st_uid,
        "gid": st.st_gid,
    }


T = TypeVar("T")


def failing(action: str, home: Path, fn: Callable[[], T]) -> T:
    """``fn()``, whose failures (the owner's process, the disk, a broken archive)
    become a :class:`ProvisionError` naming the action and the home."""
    try:
        return fn()
    except ProvisionError as e:
        raise ProvisionError(f"cannot {action} {home}: {e}") from e
    except (OwnerProcessError, OSError, tarfile.TarError, ValueError, KeyError) as e:
        raise ProvisionError(f"cannot {action} {home}: {type(e).__name__}: {e}") from e


def member_filter(member: tarfile.TarInfo, dest: str, prefix: str) -> tarfile.TarInfo | None:
    """Extraction filter: a member under ``prefix/`` with its name relative to the
    tree; tarfile's "tar" checks (no absolute name, nothing out of ``dest``), no
    device, hard links only within the tree; the permission bits as archived."""
    if not member.name.startswith(prefix + "/"):
        return None  # the archive's other parts, or the prefix folder itself
    changes: dict[str, Any] = {"name": member.name[len(prefix) + 1 :]}
    if member.islnk():
        target = member.linkname
        if not target.startswith(prefix + "/") or ".." in target.split("/"):
            raise ProvisionError(f"refusing {member.name}: a hard link to {target!r}")
        changes["linkname"] = target[len(prefix) + 1 :]
    if member.ischr() or member.isblk():
        raise ProvisionError(f"refusing {member.name}: a device")
    renamed = member.replace(**changes, deep=False)
    checked = tarfile.tar_filter(renamed, dest)
    if renamed.mode is not None:  # the "tar" filter clears group and other write bits
        checked = checked.replace(mode=renamed.mode & 0o7777, deep=False)
    return checked


def open_folder(top: str, rel: str) -> int:
    """A descriptor of folder ``rel`` of ``top``, every component opened without
    following a link (ELOOP, ENOTDIR: not a folder)."""
    fd = os.open(top, DIR_FLAGS)
    try:
        for name in [p for p in rel.split("/") if p]:
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def unlike(want: dict[str, Any] | None, st: os.stat_result, target: str | None = None) -> str:
    """How an entry (its lstat, a link's ``target``) differs from what a listing
    says of it (``want``; None: not listed), "" when it does not: type, permission
    bits, a file's size, a link's target, its owner where listed, and its mtime
    (a folder's only changes when an entry in it comes or goes, and a folder is
    only removed once every entry in it was, each as listed: not compared)."""
    if want is None:
        return "new"
    kind = TYPES.get(stat.S_IFMT(st.st_mode), "other")
    if kind != want["type"] and not (kind == "file" and want["type"] == "hardlink"):
        return f"a {kind}, archived as a {want['type']}"
    now: dict[str, Any] = {"mode": stat.S_IMODE(st.st_mode), "mtime_ns": st.st_mtime_ns}
    now |= {"uid": st.st_uid, "gid": st.st_gid, "size": st.st_size, "target": target}
    keys = ["mode", "uid", "gid", "size"]
    keys += [] if kind == "dir" else ["mtime_ns"]
    keys += ["target"] if want["type"] == "symlink" else []
    changed = [k for k in keys if k in want and want[k] != now[k]]
    return f"{', '.join(changed)} changed" if changed else ""


class Kept(ProvisionError):
    """An entry a removal left in place: not what the archive lists."""

    def __init__(self, rel: str, why: str):
        super().__init__(
            f"{rel}: {why} since the archive; left in place, and the rest of this reset "
            "refused (what was removed is in the archive). Move it away (it is not in "
            "the archive), then run the reset again"
        )


def remove_as_listed(
    dir_fd: int, name: str, rel: str, entries: Listing, problems: list[str] | None = None
) -> None:
    """Remove entry ``name`` of folder ``dir_fd`` (``rel`` in the tree), a folder
    with its content, only where each entry's lstat is still what ``entries`` (the
    archive's listing) says (:func:`unlike`); the first one that is not is left in
    place and stops the removal (:class:`Kept`). Never through a link: every
    folder is opened relative to its parent with ``O_NOFOLLOW`` and must be the
    one its lstat saw; a folder its owner made read-only is made writable first.

    With ``problems`` (a list), nothing is removed: every entry that is not as
    listed is added to it (a folder its owner cannot read is not looked into:
    the removal checks what is in it)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    target = os.readlink(name, dir_fd=dir_fd) if stat.S_ISLNK(st.st_mode) else None
    why = unlike(entries.get(rel), st, target)
    if why == "new" and stat.S_ISSOCK(st.st_mode):
        why = ""  # a socket holds no data (never archived): nothing of it to keep
    if why and problems is not None:
        problems.append(f"{rel}: {why}")
        return
    if why:
        raise Kept(rel, why)
    if not stat.S_ISDIR(st.st_mode):
        if problems is None:
            os.unlink(name, dir_fd=dir_fd)
        return
    if problems is not None and stat.S_IMODE(st.st_mode) & 0o500 != 0o500:
        return
    fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    try:
        if (os.fstat(fd).st_dev, os.fstat(fd).st_ino) != (st.st_dev, st.st_ino):
            raise Kept(rel, "replaced while it was removed")
        if problems is None and stat.S_IMODE(st.st_mode) & 0o700 != 0o700:
            os.chmod(fd, stat.S_IMODE(st.st_mode) | 0o700)
        for child in sorted(os.listdir(fd)):
            remove_as_listed(fd, child, f"{rel}/{child}", entries, problems)
    finally:
        os.close(fd)
    if problems is None:
        os.rmdir(name, dir_fd=dir_fd)
