"""Files the kit writes whole or not at all (status files, settings, the policy file),
and the lock writers of one file share."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def atomic_write(
    path: Path,
    text: str,
    mode: int,
    *,
    owner: tuple[int, int] | None = None,
    tmp_dir: Path | None = None,
) -> None:
    """Write ``path`` whole or not at all: a new file (``mode``, given to ``owner``)
    in ``tmp_dir`` (default: beside it), then renamed over it."""
    tmp = (tmp_dir or path.parent) / f".{path.name}-{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if owner is not None:
            os.chown(tmp, *owner, follow_symlinks=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on ``.<name>.lock`` beside ``path`` (made if
    missing, mode 0644) for a read-modify-write of ``path``: writers that all take
    it (the class dashboard, ``jhub-kit class limits`` run on the hub's machine) lose
    no change to each other. The lock file stays; an ``atomic_write`` over ``path``
    leaves it as it is."""
    import fcntl

    lock = path.parent / f".{path.name}.lock"
    # read-only is enough for flock: a lock file another user made (root's, by a CLI
    # run) still locks for the dashboard's user
    fd = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
