"""What a provisioner made, kept in a small JSON file beside the homes.

The state records each user's resolved name, so a future change of the naming
scheme never orphans a home, and what is needed to bring a mount back after a
reboot. Writes are atomic (write a temp file, fsync, rename).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

VERSION = 1


class StateFile:
    """Updates are read-modify-write under a thread lock and an flock, so that
    concurrent provisions (and the CLI beside the hub) never lose a record."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
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

    def read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise RuntimeError(
                f"provisioner state {self.path} is unreadable ({e}); fix or restore it before "
                "spawning, since it maps usernames to their homes"
            ) from None
        users = data.get("users") if isinstance(data, dict) else None
        if not isinstance(users, dict):
            raise RuntimeError(f"provisioner state {self.path} has no 'users' mapping")
        return users

    def write(self, users: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"version": VERSION, "users": users}, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, username: str) -> dict[str, Any] | None:
        return self.read().get(username)

    def put(self, username: str, record: dict[str, Any]) -> None:
        with self._locked():
            users = self.read()
            users[username] = record
            self.write(users)

    def remove(self, username: str) -> None:
        with self._locked():
            users = self.read()
            if users.pop(username, None) is not None:
                self.write(users)
