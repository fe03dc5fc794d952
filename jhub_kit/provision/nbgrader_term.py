"""The end of term for a course's nbgrader data (its folder on the host,
:mod:`jhub_kit.quota.nbgrader`): archived like a home, reset for a new term,
restored.

The folder's files belong to the servers' uid (the provisioner's owner), except
the folders that hold the students' own (:data:`~jhub_kit.quota.nbgrader.ROOT_OWNED`,
root's, 0755). It is archived as a home is (:func:`~.archive.write_archive`, read as
the owner, never through a link), its members under ``nbgrader/``.

A reset (:func:`reset_nbgrader`) starts a new term: it removes what the students
handed in and what grading made of it, and keeps what the teachers wrote:

- removed: everything released (``exchange/outbound/*``), every student's inbound
  and feedback folder with their content (``exchange/inbound/<student>``,
  ``exchange/feedback/<student>``), and in the course directory (``staff/``)
  ``submitted/``, ``autograded/``, ``feedback/`` and the gradebook
  (``gradebook.db`` and SQLite's journal files beside it);
- kept: the rest of ``staff/``: ``source/`` (the assignments), ``release/``, the
  teachers' own files (an ``nbgrader_config.py``, notes).

:func:`restore_nbgrader` brings back what the archive holds into a folder that
holds nothing else (what a reset kept, unchanged, may be there).
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from pathlib import Path

from ..quota.nbgrader import EXCHANGE, FEEDBACK, INBOUND, OUTBOUND, ROOT_OWNED, STAFF
from . import paths
from .archive import Listing, _failing, _home_member, _walk, differences, listing
from .base import ProvisionError, as_owner

#: the members of the nbgrader archive are under this folder
PREFIX = "nbgrader"
#: what a reset removes from the course directory (``staff/``)
STAFF_RESET = (
    "submitted",
    "autograded",
    "feedback",
    "gradebook.db",
    "gradebook.db-journal",
    "gradebook.db-wal",
    "gradebook.db-shm",
)
#: the folders whose every entry (a student's folder) a reset removes
PER_STUDENT = (f"{EXCHANGE}/{INBOUND}", f"{EXCHANGE}/{FEEDBACK}")

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open(top: str, rel: str) -> int:
    """A descriptor of folder ``rel`` of ``top``, every component opened without
    following a link (ELOOP, ENOTDIR: not a folder)."""
    fd = os.open(top, _DIR)
    try:
        for name in [p for p in rel.split("/") if p]:
            child = os.open(name, _DIR, dir_fd=fd)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _remove(dir_fd: int, name: str) -> None:
    """Remove entry ``name`` of the folder ``dir_fd``, a folder with its content
    (made writable first where its owner made it read-only); a link is removed,
    never followed."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, _DIR, dir_fd=dir_fd)
    try:
        top = f"/proc/self/fd/{fd}"
        os.chmod(fd, stat.S_IMODE(st.st_mode) | 0o700)
        for _rel, path, sub in _walk(top):
            if stat.S_ISDIR(sub.st_mode) and stat.S_IMODE(sub.st_mode) & 0o700 != 0o700:
                os.chmod(path, stat.S_IMODE(sub.st_mode) | 0o700)
    finally:
        os.close(fd)
    # rmtree refuses a link at its top and follows none below it
    shutil.rmtree(f"/proc/self/fd/{dir_fd}/{name}")


def _empty_in(top: str, rel: str) -> None:
    """Remove everything in folder ``rel`` of ``top`` (nothing if it is not there)."""
    try:
        fd = _open(top, rel)
    except FileNotFoundError:
        return
    try:
        for name in os.listdir(fd):
            _remove(fd, name)
    finally:
        os.close(fd)


def _reset_as_owner(top: str) -> None:
    """The owner's part of a reset: the released assignments, the content of each
    student's folder, the course directory's students' parts."""
    _empty_in(top, f"{EXCHANGE}/{OUTBOUND}")
    for parent in PER_STUDENT:
        try:
            fd = _open(top, parent)
        except FileNotFoundError:
            continue
        try:
            names = os.listdir(fd)
        finally:
            os.close(fd)
        for name in names:
            _empty_in(top, f"{parent}/{name}")
    try:
        fd = _open(top, STAFF)
    except FileNotFoundError:
        return
    try:
        for name in STAFF_RESET:
            _remove(fd, name)
    finally:
        os.close(fd)


def _remove_student_folders(top: str) -> None:
    """Root's part of a reset: each student's (now empty) folder, in folders of root's
    (``rmdir``: never a link, never a folder that is not empty)."""
    for parent in PER_STUDENT:
        try:
            fd = _open(top, parent)
        except FileNotFoundError:
            continue
        try:
            for name in os.listdir(fd):
                os.rmdir(name, dir_fd=fd)
        finally:
            os.close(fd)


def reset_nbgrader(folder: Path, owner: tuple[int, int]) -> None:
    """Start a new term in the nbgrader folder ``folder`` (the module's words say
    what goes and what stays): as ``owner``, then the students' folders as root."""

    def run() -> None:
        as_owner(owner, _reset_as_owner, str(folder))
        _remove_student_folders(str(folder))

    _failing("reset", folder, run)


def _root_owned(rel: str) -> bool:
    return rel in ROOT_OWNED


def _student_folder(rel: str) -> bool:
    """A student's own folder (``exchange/inbound/<student>``...): made by root."""
    parent, _, name = rel.rpartition("/")
    return parent in PER_STUDENT and bool(name)


def _unpack_missing(fd: int, top: str, entries: Listing, present: list[str]) -> None:
    """As the owner: every member not ``present`` (nor root's), then every mtime
    and each present folder's mode as archived (root's folders: root sets them)."""
    skip = set(present)

    def member(m: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        out = _home_member(m, dest, PREFIX)
        if out is None or out.name in skip or _root_owned(out.name):
            return None
        return out

    with os.fdopen(fd, "rb", closefd=False) as f, tarfile.open(fileobj=f, mode="r:gz") as tar:
        tar.extractall(top, filter=member)
    for rel, entry in entries.items():
        if _root_owned(rel):
            continue
        path = os.path.join(top, rel)
        if rel in skip and entry["type"] == "dir":
            os.chmod(path, entry["mode"])
        ns = entry["mtime_ns"]
        os.utime(path, ns=(ns, ns), follow_symlinks=False)


def _root_folders(top: str, entries: Listing) -> None:
    """As root: root's folders' mode and mtime as archived (each opened without
    following a link)."""
    for rel, entry in entries.items():
        if not _root_owned(rel):
            continue
        fd = _open(top, rel)
        try:
            os.chmod(fd, entry["mode"])
            os.utime(fd, ns=(entry["mtime_ns"], entry["mtime_ns"]))
        finally:
            os.close(fd)


def restore_nbgrader(archive: Path, folder: Path, owner: tuple[int, int], entries: Listing) -> None:
    """Bring ``folder`` back to its archive (``entries``): refused when it holds
    anything the archive does not, or differs from it in anything but a folder's
    mtime (a new term's work); root's folders and each student's folder made
    first (by root, the student's for ``owner``), the rest unpacked as ``owner``;
    then checked, every file by its SHA-256."""
    now, _ = listing(folder, owner, digests=True)
    kept = []
    for line in differences(entries, now):
        rel, _, what = line.rpartition(": ")
        if what == "gone":
            continue
        if what == "mtime_ns changed" and entries[rel]["type"] == "dir":
            kept.append(rel)
            continue
        raise ProvisionError(
            f"{folder} holds what its archive does not ({line}); nothing was restored. "
            "A new term's nbgrader data is there: archive it elsewhere first, or look"
        )
    present = [rel for rel in entries if rel in now]
    made = []
    for rel in sorted(entries, key=lambda r: r.count("/")):
        if rel in now or entries[rel]["type"] != "dir":
            continue
        if _root_owned(rel):
            paths.make_dirs(str(folder), rel, uid=0, gid=0)
            made.append(rel)
        elif _student_folder(rel):
            paths.make_dirs(str(folder), rel, uid=owner[0], gid=owner[1])
            made.append(rel)

    def run() -> None:
        fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            as_owner(owner, _unpack_missing, fd, str(folder), entries, present + made)
        finally:
            os.close(fd)
        _root_folders(str(folder), entries)

    _failing("restore", folder, run)
    after, _ = listing(folder, owner, digests=True)
    changed = differences(entries, after)
    if changed:
        raise ProvisionError(
            f"{folder} was unpacked but differs from its archive in {len(changed)} entries: "
            f"{'; '.join(changed[:5])}"
        )
