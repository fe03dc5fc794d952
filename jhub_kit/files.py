"""Files the kit writes whole or not at all (status files, settings, the policy file)."""

from __future__ import annotations

import contextlib
import os
import secrets
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
