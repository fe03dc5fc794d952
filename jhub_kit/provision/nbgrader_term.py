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

It removes only what is still as the archive lists it (:func:`~.tree.remove_as_listed`:
type, permission bits, owner, a file's size and mtime, a link's target): anything
new or changed since is left in place, and the reset of the folder refused.

:func:`restore_nbgrader` brings back what the archive holds into a folder that
holds nothing else (what a reset kept, unchanged, may be there).
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from pathlib import Path

from ..quota.nbgrader import (
    EXCHANGE,
    FEEDBACK,
    INBOUND,
    OUTBOUND,
    ROOT_OWNED,
    STAFF,
    host_folders,
)
from . import paths
from .archive import NBGRADER_PART, differences, listing
from .base import ProvisionError, as_owner
from .tree import Kept, Listing, failing, member_filter, open_folder, remove_as_listed, unlike

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


def _reset_parts(top: str, entries: Listing, problems: list[str] | None) -> None:
    """Remove (with ``problems``: only check, :func:`~.tree.remove_as_listed`) the
    released assignments, the content of each student's folder (the folder as
    archived, too: root removes it once it is empty), the course directory's
    students' parts."""
    rels = [f"{EXCHANGE}/{OUTBOUND}", *_student_folders(top)]
    for rel in rels:
        try:
            fd = open_folder(top, rel)
        except FileNotFoundError:
            continue
        try:
            why = "" if rel == rels[0] else unlike(entries.get(rel), os.fstat(fd))
            if why and problems is not None:
                problems.append(f"{rel}: {why}")
                continue
            if why:
                raise Kept(rel, why)
            for name in sorted(os.listdir(fd)):
                remove_as_listed(fd, name, f"{rel}/{name}", entries, problems)
        finally:
            os.close(fd)
    try:
        fd = open_folder(top, STAFF)
    except FileNotFoundError:
        return
    try:
        for name in STAFF_RESET:
            remove_as_listed(fd, name, f"{STAFF}/{name}", entries, problems)
    finally:
        os.close(fd)


def _check_as_owner(top: str, entries: Listing) -> None:
    """The owner's check before a reset: everything it would remove is as its
    archive lists it (``entries``), else nothing is removed."""
    problems: list[str] = []
    _reset_parts(top, entries, problems)
    if problems:
        raise ProvisionError(
            f"{len(problems)} entries are not as archived ({'; '.join(problems[:5])}): "
            "nothing of the folder removed. They are not in the archive: move them "
            "away, or run `jhub-kit course archive` again, then reset"
        )


def _reset_as_owner(top: str, entries: Listing) -> None:
    """The owner's part of a reset: each entry checked again as it is removed
    (the first that is not as listed is left in place, and the rest refused)."""
    _reset_parts(top, entries, None)


def _student_folders(top: str) -> list[str]:
    """Every student's folder in ``top`` now (``exchange/inbound/<student>``...)."""
    out = []
    for parent in PER_STUDENT:
        try:
            fd = open_folder(top, parent)
        except FileNotFoundError:
            continue
        try:
            out += [f"{parent}/{name}" for name in sorted(os.listdir(fd))]
        finally:
            os.close(fd)
    return out


def _remove_student_folders(top: str, entries: Listing) -> None:
    """Root's part of a reset: each student's folder the archive lists, now empty,
    in folders of root's (``rmdir``: never a link, never a folder that is not empty)."""
    for rel in _student_folders(top):
        if rel in entries:
            parent, _, name = rel.rpartition("/")
            fd = open_folder(top, parent)
            try:
                os.rmdir(name, dir_fd=fd)
            finally:
                os.close(fd)


def not_archived(archived: Listing, now: Listing, *, digests: bool = False) -> list[str]:
    """What in the folder ``now`` a reset (or a restore) could lose: what differs
    from the archive's listing (:func:`~.archive.differences`, by size and mtime, by
    SHA-256 too with ``digests``), but not what is gone (the archive holds it: a
    reset that stopped halfway is run again) nor a folder's mtime alone (an entry in
    it came or went: each is compared)."""
    out = []
    for line in differences(archived, now, digests=digests):
        rel, _, what = line.rpartition(": ")
        if what == "gone" or (what == "mtime_ns changed" and archived[rel]["type"] == "dir"):
            continue
        out.append(line)
    return out


def reset_nbgrader(
    folder: Path,
    owner: tuple[int, int],
    entries: Listing,
    removing: Callable[[], None] = lambda: None,
) -> None:
    """Start a new term in the nbgrader folder ``folder`` (the module's words say
    what goes and what stays), removing only what is still as its archive lists it
    (``entries``): checked, then (``removing()`` called just before) removed as
    ``owner``, then the students' folders as root."""

    def run() -> None:
        as_owner(owner, _check_as_owner, str(folder), entries)
        removing()
        as_owner(owner, _reset_as_owner, str(folder), entries)
        _remove_student_folders(str(folder), entries)

    failing("reset", folder, run)


def _root_owned(rel: str) -> bool:
    return rel in ROOT_OWNED


def _layout(entries: Listing) -> list[str]:
    """The folders of the layout (:func:`~jhub_kit.quota.nbgrader.host_folders`: the
    exchange's, the course directory, each archived student's two) that the
    archive lists, parents first: made by root before the owner unpacks (the
    owner cannot make a folder in root's ``exchange/``)."""
    students = {rel.rpartition("/")[2] for rel in entries if rel.rpartition("/")[0] in PER_STUDENT}
    return [rel for rel in host_folders(students) if entries.get(rel, {}).get("type") == "dir"]


def _unpack_missing(fd: int, top: str, entries: Listing, present: list[str]) -> None:
    """As the owner: every member not ``present`` (nor root's), then every mtime
    and each present folder's mode as archived (root's folders: root sets them)."""
    skip = set(present)

    def member(m: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        out = member_filter(m, dest, NBGRADER_PART)
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
        fd = open_folder(top, rel)
        try:
            os.chmod(fd, entry["mode"])
            os.utime(fd, ns=(entry["mtime_ns"], entry["mtime_ns"]))
        finally:
            os.close(fd)


def restore_nbgrader(archive: Path, folder: Path, owner: tuple[int, int], entries: Listing) -> None:
    """Bring ``folder`` back to its archive (``entries``): refused when it holds
    anything the archive does not, or differs from it in anything but a folder's
    mtime (a new term's work); every missing folder of the layout made first by
    root (:func:`_layout`: root's own, the others for ``owner``), the rest
    unpacked as ``owner``; then checked, every file by its SHA-256, every owner."""
    now, _ = listing(folder, owner, digests=True)
    left = not_archived(entries, now, digests=True)
    if left:
        raise ProvisionError(
            f"{folder} holds what its archive does not ({left[0]}); nothing was restored. "
            "A new term's nbgrader data is there: archive it elsewhere first, or look"
        )
    present = [rel for rel in entries if rel in now]
    made = []
    for rel in _layout(entries):
        if rel not in now:
            uid, gid = (0, 0) if _root_owned(rel) else owner
            paths.make_dirs(str(folder), rel, uid=uid, gid=gid)
            made.append(rel)

    def run() -> None:
        fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            as_owner(owner, _unpack_missing, fd, str(folder), entries, present + made)
        finally:
            os.close(fd)
        _root_folders(str(folder), entries)

    failing("restore", folder, run)
    after, _ = listing(folder, owner, digests=True)
    changed = differences(entries, after)
    if changed:
        raise ProvisionError(
            f"{folder} was unpacked but differs from its archive in {len(changed)} entries: "
            f"{'; '.join(changed[:5])}"
        )
