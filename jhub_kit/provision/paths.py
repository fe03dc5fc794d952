"""Directories inside a student's home, made and used by root without following a
path the student controls.

A volume mounted inside a kit home (``~/work``) needs its mount point in the
home, owned by the student, and a pooled start mounts onto it from the host.
The student can plant a symlink anywhere in their home, so every component is
opened relative to its parent with ``O_NOFOLLOW`` and made with the home's
owner; the caller gets a file descriptor of the final directory and names it
``/proc/self/fd/N`` (which the kernel resolves to that directory, not to a path).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from .base import ProvisionError


class UnsafePath(ProvisionError):
    """A component of a path in a home is a symlink or not a directory."""

    user_message = (
        "A folder in your home is in the way of a mount (a link or a file where a folder "
        "should be); your teacher has been told."
    )


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _components(rel: str) -> list[str]:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafePath(f"{rel!r} leaves the home")
    return parts


def open_dir(root: str, rel: str, *, uid: int, gid: int, mode: int = 0o755) -> int:
    """A descriptor of directory ``rel`` under ``root`` (which root owns or is the
    home's top), each missing component made with ``mode`` and given to
    ``uid:gid``. A symlink, a file, or a directory owned by someone other than
    ``uid`` or root on the way: :class:`UnsafePath`. The caller closes it."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        for name in _components(rel):
            try:
                os.mkdir(name, mode, dir_fd=fd)
                made = True
            except FileExistsError:
                made = False
            try:
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:  # ELOOP (a symlink), ENOTDIR (a file)
                raise UnsafePath(
                    f"{os.path.join(root, rel)}: {name!r} is not a directory ({e.strerror})"
                ) from None
            os.close(fd)
            fd = child
            st = os.fstat(fd)
            if made:
                os.fchown(fd, uid, gid)
                os.fchmod(fd, mode)  # not narrowed by the hub's umask
            elif st.st_uid not in (uid, 0) or not stat.S_ISDIR(st.st_mode):
                raise UnsafePath(
                    f"{os.path.join(root, rel)}: {name!r} is owned by uid {st.st_uid}, "
                    f"not the home's owner ({uid})"
                )
        return fd
    except BaseException:
        os.close(fd)
        raise


@contextmanager
def dir_in(root: str, rel: str, *, uid: int, gid: int) -> Iterator[str]:
    """:func:`open_dir` as ``/proc/self/fd/N`` for the block (pass N to a child)."""
    fd = open_dir(root, rel, uid=uid, gid=gid)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def make_dirs(root: str, rel: str, *, uid: int, gid: int) -> None:
    """Make directory ``rel`` under ``root`` as :func:`open_dir` does."""
    os.close(open_dir(root, rel, uid=uid, gid=gid))


def fd_of(proc_path: str) -> int:
    """N of ``/proc/self/fd/N``."""
    return int(proc_path.rsplit("/", 1)[1])


def writable_by(st: os.stat_result, uid: int, gid: int) -> bool:
    """Whether ``uid:gid`` may write into a directory with this stat (mode bits;
    ACLs not read): what the kit checks before warning about a bind."""
    if uid == 0:
        return True
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IWUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IWGRP)
    return bool(st.st_mode & stat.S_IWOTH)
