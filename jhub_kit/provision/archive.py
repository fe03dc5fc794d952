"""Verified archives of homes: written, listed, emptied and unpacked as the home's owner.

What ``jhub-kit course archive|reset|restore`` do to each student's home:

- :func:`write_archive` walks the home as its owner (:func:`~.base.as_owner`),
  never following a link, and writes a ``.tar.gz`` whose members are under
  ``home/`` (room for other parts of a student's term beside it). While it
  writes, it lists every entry: type, permission bits, mtime to the nanosecond,
  size and SHA-256 of each file, target of each link. The archive is written
  under a temporary name, read back and checked against that listing, and only
  then renamed into place.
- :func:`listing` lists a home again (as its owner): :func:`differences` with the
  archive's listing says whether the home changed since it was archived.
- :func:`empty_home` removes everything in a home but the home itself (and
  ext4's ``lost+found``) that is still as archived, as its owner.
- :func:`unpack` fills an empty home from an archive as its owner, then sets every
  mtime from the listing (tar keeps them to the microsecond at best, and never a
  link's own), so a listing of the result equals the archive's.

A listing maps each path (relative to the home, ``/``-separated) to a dict:
``type`` (``dir``, ``file``, ``symlink``, ``hardlink``, ``fifo``), ``mode``
(permission bits, ``0o7777``), ``mtime_ns``, the owner (``uid``, ``gid``); a
``file`` has ``size`` and ``sha256``; a ``symlink`` its ``target``; a
``hardlink`` the path it shares a file with (``target``). Sockets and devices are
not archived (a student cannot make a device; a socket is a running program's);
they are listed in ``skipped``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import secrets
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

from ..files import atomic_write
from ..names import safe_name
from .base import ProvisionError, as_owner
from .tree import (
    DIR_FLAGS,
    TYPES,
    Listing,
    failing,
    member_filter,
    remove_as_listed,
    stat_entry,
    walk,
)

#: the members of a home are under this folder of the archive
PREFIX = "home"


class _Hashing:
    """A file object that hashes what is read from it (what tarfile copies)."""

    def __init__(self, f: BinaryIO):
        self.f = f
        self.sha = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.sha.update(data)
        return data


def _sha256_fd(fd: int) -> str:
    sha = hashlib.sha256()
    with os.fdopen(os.dup(fd), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _list_tree(top: str, digests: bool) -> tuple[Listing, list[str]]:
    """The listing of ``top`` (run as its owner)."""
    entries: Listing = {}
    skipped: list[str] = []
    first_of: dict[tuple[int, int], str] = {}
    for rel, path, st in walk(top):
        if stat.S_IFMT(st.st_mode) not in TYPES:
            skipped.append(rel)
            continue
        entry = stat_entry(st)
        if entry["type"] == "symlink":
            entry["target"] = os.readlink(path)
        elif entry["type"] == "file":
            inode = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and inode in first_of:
                entry = {**entry, "type": "hardlink", "target": first_of[inode]}
            else:
                first_of[inode] = rel
                entry["size"] = st.st_size
                if digests:
                    fd = _open_file(path, st)
                    try:
                        entry["sha256"] = _sha256_fd(fd)
                    finally:
                        os.close(fd)
        entries[rel] = entry
    return entries, skipped


def _open_file(path: str, st: os.stat_result) -> int:
    """``path`` opened for reading, refusing anything but the file ``st`` saw."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    now = os.fstat(fd)
    if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise ProvisionError(f"{path} changed while it was read")
    return fd


def _write_tar(out_fd: int, tar_fd: int, top: str, prefix: str = PREFIX) -> None:
    """Write ``top`` as a .tar.gz (members under ``prefix/``) to ``tar_fd`` and its
    listing (JSON) to ``out_fd``; run as the home's owner."""
    entries: Listing = {}
    skipped: list[str] = []
    with (
        os.fdopen(tar_fd, "wb", closefd=False) as f,
        tarfile.open(fileobj=f, mode="w:gz", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel, path, st in walk(top):
            if stat.S_IFMT(st.st_mode) not in TYPES:
                skipped.append(rel)
                continue
            arcname = f"{prefix}/{rel}"
            entry = stat_entry(st)
            if entry["type"] != "file":
                info = tar.gettarinfo(path, arcname=arcname)
                if entry["type"] == "symlink":
                    entry["target"] = info.linkname
                tar.addfile(info)
                entries[rel] = entry
                continue
            fd = _open_file(path, st)
            with os.fdopen(fd, "rb") as src:
                info = tar.gettarinfo(arcname=arcname, fileobj=src)
                if info.islnk():  # a second name of a file already in the archive
                    entry = {
                        **entry,
                        "type": "hardlink",
                        "target": info.linkname[len(prefix) + 1 :],
                    }
                    tar.addfile(info)
                else:
                    hashing = _Hashing(src)
                    tar.addfile(info, hashing)
                    entry["size"] = info.size
                    entry["sha256"] = hashing.sha.hexdigest()
            entries[rel] = entry
    with os.fdopen(out_fd, "w", closefd=False) as out:
        json.dump({"entries": entries, "skipped": skipped}, out)


def _list_to(out_fd: int, top: str, digests: bool) -> None:
    entries, skipped = _list_tree(top, digests)
    with os.fdopen(out_fd, "w", closefd=False) as out:
        json.dump({"entries": entries, "skipped": skipped}, out)


def _owner_json(owner: tuple[int, int], fn: Any, *args: Any) -> dict[str, Any]:
    """Run ``fn(out_fd, *args)`` as ``owner``; what it writes to ``out_fd`` (JSON)."""
    with tempfile.TemporaryFile("w+") as out:
        as_owner(owner, fn, out.fileno(), *args)
        out.seek(0)
        data: dict[str, Any] = json.load(out)
        return data


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size in bytes of ``path`` (not through a link)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        return _sha256_fd(fd), os.fstat(fd).st_size
    finally:
        os.close(fd)


def archive_problems(path: Path, entries: Listing, prefix: str = PREFIX) -> list[str]:
    """What in the archive at ``path`` (its members under ``prefix/``) does not match
    ``entries``: every member read back (as root: a file the kit wrote, never
    unpacked here), each file's bytes hashed."""
    problems: list[str] = []
    seen: set[str] = set()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f, tarfile.open(fileobj=f, mode="r:gz") as tar:
        for member in tar:
            if not member.name.startswith(prefix + "/"):
                continue
            rel = member.name[len(prefix) + 1 :]
            seen.add(rel)
            want = entries.get(rel)
            if want is None:
                problems.append(f"{rel}: in the archive, not in its listing")
                continue
            if member.isreg() and want["type"] == "file":
                if _member_sha256(tar, member) != want.get("sha256"):
                    problems.append(f"{rel}: its bytes differ from the listing's SHA-256")
            elif _member_type(member) != want["type"]:
                problems.append(f"{rel}: a {_member_type(member)} in the archive, a {want['type']}")
    problems += [f"{rel}: listed, not in the archive" for rel in sorted(set(entries) - seen)]
    return problems


def _member_sha256(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    data = tar.extractfile(member)
    assert data is not None
    sha = hashlib.sha256()
    for block in iter(lambda: data.read(1 << 20), b""):
        sha.update(block)
    return sha.hexdigest()


def _member_type(m: tarfile.TarInfo) -> str:
    for kind, test in (
        ("file", m.isreg),
        ("dir", m.isdir),
        ("symlink", m.issym),
        ("hardlink", m.islnk),
        ("fifo", m.isfifo),
    ):
        if test():
            return kind
    return "other"


def write_archive(
    home: Path, dest: Path, owner: tuple[int, int], prefix: str = PREFIX
) -> dict[str, Any]:
    """Archive ``home`` (read as ``owner``) to ``dest`` (root's, 0600), its members
    under ``prefix/``: written under a temporary name beside it, checked, then
    renamed. Returns the record to keep with it: ``sha256`` and ``bytes`` of the
    archive, ``entries``, ``skipped``."""
    return failing("archive", home, lambda: _write_archive(home, dest, owner, prefix))


def _write_archive(home: Path, dest: Path, owner: tuple[int, int], prefix: str) -> dict[str, Any]:
    tmp = dest.parent / f".{dest.name}-{secrets.token_hex(4)}.partial"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            listed = _owner_json(owner, _write_tar, fd, str(home), prefix)
            os.fsync(fd)
        finally:
            os.close(fd)
        problems = archive_problems(tmp, listed["entries"], prefix)
        if problems:
            raise ProvisionError(
                f"the archive of {home} does not read back as written: {'; '.join(problems[:5])}"
            )
        sha, size = sha256_file(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return {"sha256": sha, "bytes": size, **listed}


def listing(home: Path, owner: tuple[int, int], *, digests: bool) -> tuple[Listing, list[str]]:
    """The listing of ``home`` now, read as ``owner`` (``sha256`` only with ``digests``)."""
    data = failing("list", home, lambda: _owner_json(owner, _list_to, str(home), digests))
    return data["entries"], data["skipped"]


def differences(archived: Listing, now: Listing, *, digests: bool = True) -> list[str]:
    """What differs between two listings, one line each, sorted (empty: the same).
    Without ``digests``, files are compared by size and mtime only."""
    out = []
    for rel in sorted(set(archived) | set(now)):
        a, b = archived.get(rel), now.get(rel)
        if a is None:
            out.append(f"{rel}: new")
        elif b is None:
            out.append(f"{rel}: gone")
        else:
            keys = ["type", "mode", "mtime_ns", "size", "target"]
            keys += [k for k in ("uid", "gid") if k in a]  # an older record has none
            if digests:
                keys.append("sha256")
            changed = [k for k in keys if a.get(k) != b.get(k)]
            if changed:
                out.append(f"{rel}: {', '.join(changed)} changed")
    return out


def _empty_as_listed(top: str, entries: Listing) -> None:
    """Remove everything in ``top`` but ``top`` that is still as ``entries`` lists it
    (as its owner; :func:`~.tree.remove_as_listed`)."""
    fd = os.open(top, DIR_FLAGS)
    try:
        for name in sorted(os.listdir(fd)):
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if name == "lost+found" and stat.S_ISDIR(st.st_mode):
                continue  # ext4's, root's (walk leaves it out of the listing too)
            remove_as_listed(fd, name, name, entries)
    finally:
        os.close(fd)


def empty_home(home: Path, owner: tuple[int, int], entries: Listing) -> None:
    """Remove everything in ``home`` but the home itself, as ``owner``, that is
    still as ``entries`` (its archive's listing) lists it: the first entry that is
    new or changed since is left in place and stops the emptying
    (:class:`~.tree.Kept`), so what arrived after the check is never lost."""
    failing("empty", home, lambda: as_owner(owner, _empty_as_listed, str(home), entries))


def _extract(fd: int, top: str, entries: Listing) -> None:
    present = [p for p in os.listdir(top) if p != "lost+found"]
    if present:
        raise ProvisionError(
            f"{top} is not empty ({len(present)} entries); nothing was unpacked. Run "
            "`jhub-kit course reset` first, or look at what is there"
        )
    with os.fdopen(fd, "rb", closefd=False) as f, tarfile.open(fileobj=f, mode="r:gz") as tar:
        tar.extractall(top, filter=lambda m, dest: member_filter(m, dest, PREFIX))
    # deepest first does not matter: setting a child's times leaves its folder's alone
    for rel, entry in entries.items():
        ns = entry["mtime_ns"]
        os.utime(os.path.join(top, rel), ns=(ns, ns), follow_symlinks=False)


def unpack(archive: Path, home: Path, owner: tuple[int, int], entries: Listing) -> None:
    """Unpack ``archive`` into the empty ``home`` as ``owner`` (what the student
    could write, and only that), then set each entry's mtime from ``entries``."""

    def run() -> None:
        fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            as_owner(owner, _extract, fd, str(home), entries)
        finally:
            os.close(fd)

    failing("restore", home, run)


FORMAT = 1
#: the course's nbgrader data: its archive's and record's name, its members' folder
NBGRADER_STEM = "_nbgrader"
NBGRADER_PART = "nbgrader"


class ArchiveDir:
    """A course's archives: ``NAME.tar.gz`` and ``NAME.json`` per student (NAME
    from :func:`~jhub_kit.names.safe_name`), ``_nbgrader.tar.gz`` and
    ``_nbgrader.json`` for the course's nbgrader data (key None), and
    ``SHA256SUMS`` of every archive (``sha256sum -c SHA256SUMS`` checks them). A
    student's record (JSON) is written, whole, only after their archive was
    renamed into place: an archive without a record is one a run did not finish."""

    def __init__(self, path: Path, course: str):
        self.path = Path(path)
        self.course = course

    @staticmethod
    def _stem(user: str | None) -> str:
        # "_" is in no safe name: the course's own archive never meets a student's
        return NBGRADER_STEM if user is None else safe_name(user)

    @staticmethod
    def what(user: str | None) -> str:
        """``user``, or (None) the course's nbgrader data, in words."""
        return "the course's nbgrader data" if user is None else user

    def tar(self, user: str | None) -> Path:
        """``user``'s archive; None: the course's nbgrader data."""
        return self.path / f"{self._stem(user)}.tar.gz"

    def _record_path(self, user: str | None) -> Path:
        return self.path / f"{self._stem(user)}.json"

    def create(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.is_symlink() or not self.path.is_dir():
            raise ProvisionError(f"{self.path} is not a folder")

    def record(self, user: str | None) -> dict[str, Any] | None:
        """``user``'s record, or None when there is none (or it is not theirs)."""
        try:
            data = json.loads(self._record_path(user).read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise ProvisionError(f"{self._record_path(user)} is unreadable: {e}") from None
        if not isinstance(data, dict) or data.get("user") != user:
            return None
        if user is None and data.get("part") != NBGRADER_PART:
            return None
        return data

    def save(self, user: str | None, record: dict[str, Any]) -> dict[str, Any]:
        full = {
            "format": FORMAT,
            "course": self.course,
            "user": user,
            **({"part": NBGRADER_PART} if user is None else {}),
            "archive": self.tar(user).name,
            "archived_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            **record,
        }
        atomic_write(self._record_path(user), json.dumps(full, indent=1) + "\n", 0o600)
        return full

    def mark_reset(self, user: str | None, reset: bool = True) -> None:
        """Say in ``user``'s record that their folder was reset after this archive
        (``reset_at``), or (``reset=False``) that it holds the archive again."""
        record = self.record(user)
        if record is None or ("reset_at" in record) == reset:
            return
        if reset:
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            record["reset_at"] = now
        else:
            del record["reset_at"]
        atomic_write(self._record_path(user), json.dumps(record, indent=1) + "\n", 0o600)

    def replacing_reset(self, user: str | None) -> str:
        """Why archiving ``user`` again would replace last term's archive with what
        their folder holds since its reset ("" when it was not reset after it)."""
        record = self.record(user)
        if record is None or "reset_at" not in record:
            return ""
        return (
            f"{self.what(user)} was reset at {record['reset_at']}, after the archive "
            f"{self.tar(user).name}: archiving again would replace last term's archive "
            "with the new term's; use another --archive-dir, or give --replace"
        )

    def verified(self, user: str | None) -> tuple[dict[str, Any] | None, str]:
        """``user``'s record and "" when their archive is there and its SHA-256 is
        the recorded one; else None and why not."""
        record = self.record(user)
        if record is None:
            return None, f"no archive of {self.what(user)} in {self.path}"
        try:
            sha, size = sha256_file(self.tar(user))
        except OSError as e:
            return None, f"{self.tar(user)} cannot be read: {e.strerror}"
        if (sha, size) != (record.get("sha256"), record.get("bytes")):
            return None, f"{self.tar(user)} is not the archive its record describes (SHA-256)"
        return record, ""

    def archive(
        self,
        user: str | None,
        folder: Path,
        owner: tuple[int, int],
        *,
        replace: bool = False,
        prefix: str = PREFIX,
    ) -> tuple[dict[str, Any] | None, str]:
        """The archive step of one folder (a student's home, or the course's nbgrader
        data with ``user`` None and its members' ``prefix``): ``(None, "")`` when its archive
        verifies and the folder has not changed since (skipped); ``(None, why)`` when
        the folder was reset after that archive and ``replace`` is not given; else
        the archive is written, its record saved, and the record returned."""
        record, _ = self.verified(user)
        if record is not None:
            now, _skipped = listing(folder, owner, digests=False)
            if not differences(record["entries"], now, digests=False):
                return None, ""
        reset_since = "" if replace else self.replacing_reset(user)
        if reset_since:
            return None, reset_since
        made = write_archive(folder, self.tar(user), owner, prefix)
        return self.save(user, made), ""

    def write_sums(self) -> Path:
        """``SHA256SUMS`` of every archive with a record, in ``sha256sum``'s format."""
        lines = []
        for p in sorted(self.path.glob("*.json")):
            try:
                data = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("sha256") and data.get("archive"):
                lines.append(f"{data['sha256']}  {data['archive']}\n")
        path = self.path / "SHA256SUMS"
        atomic_write(path, "".join(lines), 0o600)
        return path
