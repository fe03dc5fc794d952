"""Secure container defaults (pure): what a student's server may not do.

Zero to JupyterHub's defaults, for one Docker host:

- ``no-new-privileges``: a setuid binary in the image (sudo, a planted copy)
  does not make its caller root;
- every capability dropped, except the few an image that *starts as root* and
  then switches to its user needs (the Jupyter Docker Stacks' ``start.sh``
  chowns the home and changes user): ``CHOWN``, ``DAC_OVERRIDE``, ``FOWNER``,
  ``SETUID``, ``SETGID``. A server that starts as uid 1000 needs none.

Docker's defaults keep 14 capabilities (NET_RAW, MKNOD, SETFCAP, ...) and honour
setuid binaries. Each part is a trait of QuotaDockerSpawner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

#: What an image that starts as root needs to set up and switch to its user.
ROOT_START_CAPS = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID")


def starts_as_root(user: str | None) -> bool:
    """Whether a container with this ``User`` (image config or create kwarg) starts as root."""
    name = (user or "").split(":")[0].strip()
    return name in ("", "root", "0")


def host_config_security(
    *,
    no_new_privileges: bool,
    cap_drop: Sequence[str],
    cap_add: Iterable[str] | None,
    root_start: bool,
) -> dict[str, Any]:
    """Docker host-config keywords: ``security_opt``, ``cap_drop``, ``cap_add``.

    ``cap_add`` None means "what the image's start needs": nothing for an image
    that starts as a user, :data:`ROOT_START_CAPS` for one that starts as root.
    """
    out: dict[str, Any] = {}
    if no_new_privileges:
        out["security_opt"] = ["no-new-privileges:true"]
    if cap_drop:
        out["cap_drop"] = [c.upper() for c in cap_drop]
    add = list(ROOT_START_CAPS if root_start else ()) if cap_add is None else list(cap_add)
    if add:
        out["cap_add"] = [c.upper() for c in add]
    return out
