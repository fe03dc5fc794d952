"""What a provisioner made, kept in a small JSON file beside the homes.

The state records each user's resolved name, so a future change of the naming
scheme never orphans a home, and what is needed to bring a mount back after a
reboot. It is the kit's memory that a home *exists*: a home the state lists
is never silently made again, empty.

Two copies are written, atomically (temp file, fsync, rename), on every change:

- the state itself, ``base_dir/.jhub-kit-state.json``, on the homes' disk;
- a mirror beside ``base_dir`` (``<parent>/.<base name>.jhub-kit-state.json``),
  which stays on the host's disk when ``base_dir`` is a mount point.

Each state carries a random id made when ``base_dir`` is first used. If the
state is missing while the mirror lists homes, or the two ids differ,
``base_dir`` is not the filesystem it was (a disk that did not mount, another
disk mounted there): reading refuses, and nothing is created on the wrong disk.
A state file that does not parse is kept aside as ``*.corrupt-<time>`` and
refused, never reset.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

VERSION = 1


class StateError(RuntimeError):
    """The state cannot be trusted; the message says why and what to do."""


class StateFile:
    """Updates are read-modify-write under a thread lock and an flock, so that
    concurrent provisions (and the CLI beside the hub) never lose a record."""

    def __init__(self, path: str | os.PathLike[str], mirror: str | os.PathLike[str] | None = None):
        self.path = Path(path)
        if mirror is None:
            base = self.path.parent
            mirror = base.parent / f".{base.name or 'root'}.jhub-kit-state.json"
        self.mirror = Path(mirror)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    # -- reading -------------------------------------------------------------

    def _load(self, path: Path) -> dict[str, Any] | None:
        """The parsed document at ``path``; None if absent. Refuses (and keeps) a bad one."""
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StateError(f"provisioner state {path} is unreadable ({e.strerror})") from None
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or not isinstance(doc.get("users"), dict):
                raise ValueError("no 'users' mapping")
        except ValueError as e:
            kept = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            with contextlib.suppress(OSError):
                shutil.copy2(path, kept)
            other = self.mirror if path == self.path else self.path
            raise StateError(
                f"provisioner state {path} is corrupt ({e}); a copy is kept at {kept}. "
                f"Nothing was provisioned. The other copy, {other}, holds the last good "
                "state: check it and copy it over the broken one"
            ) from None
        return doc

    def document(self) -> dict[str, Any]:
        """The whole state, after checking it belongs to this ``base_dir``.

        Read without the lock, so the mirror is read first: a writer replaces the
        state before its mirror, so the state read next is at least as new as the
        mirror read. Read the other way round, a reader between a first writer's two
        replaces saw no state but a mirror listing a home, and refused a sound
        ``base_dir`` as another disk (20 first logins at once on a fresh base_dir).
        """
        mirror = self._load(self.mirror)
        doc = self._load(self.path)
        if doc is None:
            if mirror and mirror.get("users"):
                rec = mirror.get("base") or {}
                raise StateError(
                    f"{self.path.parent} has no home state, but {self.mirror} lists "
                    f"{len(mirror['users'])} home(s) made there (base id {rec.get('id')}, "
                    f"device {rec.get('device')}): base_dir is not the filesystem it was. "
                    "Is its disk mounted? Mount it and try again; nothing was created"
                )
            return {"version": VERSION, "users": {}}
        if mirror is not None:
            mine, theirs = (doc.get("base") or {}).get("id"), (mirror.get("base") or {}).get("id")
            if mine and theirs and mine != theirs:
                raise StateError(
                    f"{self.path} (base id {mine}) is not the state recorded beside it in "
                    f"{self.mirror} (base id {theirs}): another disk is mounted at "
                    f"{self.path.parent}. Mount the right one, or move {self.mirror} away if "
                    "this disk is meant to replace it"
                )
        return doc

    def read(self) -> dict[str, dict[str, Any]]:
        users: dict[str, dict[str, Any]] = self.document()["users"]
        return users

    def get(self, username: str) -> dict[str, Any] | None:
        return self.read().get(username)

    # -- writing -------------------------------------------------------------

    def _write_one(self, path: Path, doc: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _save(self, doc: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not (doc.get("base") or {}).get("id"):
            st = os.stat(self.path.parent)
            doc["base"] = {
                "id": uuid.uuid4().hex,
                "device": f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}",
                "path": str(self.path.parent),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        doc["version"] = VERSION
        self._write_one(self.path, doc)
        try:
            self._write_one(self.mirror, doc)
        except OSError as e:  # e.g. a read-only parent: the state itself is written
            raise StateError(f"cannot write the state's mirror {self.mirror}: {e}") from None

    def write(self, users: dict[str, dict[str, Any]]) -> None:
        with self._locked():
            doc = self.document()
            doc["users"] = users
            self._save(doc)

    def put(self, username: str, record: dict[str, Any]) -> None:
        with self._locked():
            doc = self.document()
            doc["users"][username] = record
            self._save(doc)

    def remove(self, username: str) -> None:
        with self._locked():
            doc = self.document()
            if doc["users"].pop(username, None) is not None:
                self._save(doc)

    def retire(self, username: str, why: str) -> dict[str, Any] | None:
        """Move ``username``'s record to the ``retired`` list (kept for the record)."""
        with self._locked():
            doc = self.document()
            record = doc["users"].pop(username, None)
            if record is None:
                return None
            doc.setdefault("retired", []).append(
                {
                    "user": username,
                    "record": record,
                    "why": why,
                    "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                }
            )
            self._save(doc)
            return record
