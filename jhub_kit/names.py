"""Map hostile usernames to safe, collision-free, stable names.

One rule serves directories, image files, LVM logical volumes and Docker
objects (kubespawner's ``slugs.py`` is the model):

- a name that is already safe (``[a-z0-9]`` and single ``-`` inside, starting
  with a letter or digit, short enough) is kept as it is: ``alice`` -> ``alice``;
- any other name becomes a readable prefix, ``--`` and a hash of the full
  username: ``Al.ice@x`` -> ``al-ice-x--3f2a9c0b1d``.

Safe names never contain ``--``, hashed names always do, so the two kinds
cannot collide; two hashed names collide only if 64 bits of SHA-256 do.
The alphabet ``[a-z0-9-]`` is valid for every backend: Docker's
``[a-zA-Z0-9][a-zA-Z0-9_.-]*``, LVM (no ``_`` so no reserved ``_tdata``-style
suffixes, never ``.``/``..``, never starting with ``-``), and file names.
Backends that reserve whole names (LVM's ``snapshot``, ``pvmove``) add a prefix.
"""

from __future__ import annotations

import hashlib
import re

#: Longest name produced. Docker allows 253-byte names, LVM 127 characters,
#: file names 255 bytes; 63 leaves room for prefixes and suffixes everywhere.
MAX_LENGTH = 63
_HASH_LEN = 16
_SAFE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def _hash(username: str) -> str:
    return hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]


def is_safe(name: str, max_length: int = MAX_LENGTH) -> bool:
    """Whether ``name`` is kept unchanged by :func:`safe_name`."""
    return len(name) <= max_length and bool(_SAFE.fullmatch(name)) and "--" not in name


def safe_name(username: str, max_length: int = MAX_LENGTH) -> str:
    """A name for ``username`` that is safe in paths, LVM and Docker, and unique."""
    if max_length < _HASH_LEN + 4:
        raise ValueError(f"max_length must be at least {_HASH_LEN + 4}")
    if is_safe(username, max_length):
        return username
    readable = re.sub(r"[^a-z0-9]+", "-", username.lower()).strip("-")
    readable = readable[: max_length - _HASH_LEN - 2].rstrip("-") or "x"
    return f"{readable}--{_hash(username)}"
