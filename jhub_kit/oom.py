"""Count the kernel's OOM kills inside a container, from its memory cgroup.

Docker reports ``State.OOMKilled`` only reliably when the container's main
process dies; when the kernel kills just one process (a notebook kernel that
allocated too much, the common case) Docker 20.10 on cgroup v1 says nothing
(measured: exit 137 inside, ``OOMKilled=false``, no ``oom`` event). The kernel
counts every kill in the cgroup, so read that counter instead:

- cgroup v1: ``memory.oom_control``, line ``oom_kill N`` (Linux >= 4.13);
- cgroup v2: ``memory.events``, line ``oom_kill N``.

The files are on the host; a hub that runs in a container sees them only if
the host's ``/sys/fs/cgroup`` is mounted, otherwise the count is ``None``.
"""

from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = "/sys/fs/cgroup"


def candidate_files(container_id: str, root: str = CGROUP_ROOT) -> list[Path]:
    """Where the container's OOM counter may live, for the cgroupfs and systemd drivers."""
    r = Path(root)
    return [
        r / "memory" / "docker" / container_id / "memory.oom_control",  # v1, cgroupfs
        r / "memory" / "system.slice" / f"docker-{container_id}.scope" / "memory.oom_control",
        r / "system.slice" / f"docker-{container_id}.scope" / "memory.events",  # v2, systemd
        r / "docker" / container_id / "memory.events",  # v2, cgroupfs
    ]


def parse_oom_kill(text: str) -> int | None:
    """The ``oom_kill`` count in a ``memory.oom_control`` or ``memory.events`` text."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def read_oom_kills(container_id: str, root: str = CGROUP_ROOT) -> int | None:
    """How many processes the kernel has OOM-killed in the container, if readable."""
    if not container_id:
        return None
    for path in candidate_files(container_id, root):
        try:
            return parse_oom_kill(path.read_text())
        except OSError:
            continue
    return None
