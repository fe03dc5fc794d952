"""Read a container's memory cgroup: the kernel's OOM kills, memory and CPU in use.

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
from typing import Any

CGROUP_ROOT = "/sys/fs/cgroup"


def _v1_dirs(container_id: str, controller: str, root: str) -> list[Path]:
    """The container's cgroup v1 directories of ``controller`` (cgroupfs, systemd drivers)."""
    r = Path(root) / controller
    return [r / "docker" / container_id, r / "system.slice" / f"docker-{container_id}.scope"]


def _v2_dirs(container_id: str, root: str) -> list[Path]:
    """The container's cgroup v2 directories (systemd, cgroupfs drivers)."""
    r = Path(root)
    return [r / "system.slice" / f"docker-{container_id}.scope", r / "docker" / container_id]


def candidate_files(container_id: str, root: str = CGROUP_ROOT) -> list[Path]:
    """Where the container's OOM counter may live, for the cgroupfs and systemd drivers."""
    return [d / "memory.oom_control" for d in _v1_dirs(container_id, "memory", root)] + [
        d / "memory.events" for d in _v2_dirs(container_id, root)
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


def _read_first(paths: list[Path]) -> str | None:
    for path in paths:
        try:
            return path.read_text()
        except OSError:
            continue
    return None


def read_memory_used(container_id: str, root: str = CGROUP_ROOT) -> int | None:
    """Bytes of memory the container uses now, page cache excluded (what
    ``docker stats`` shows), or None where the cgroup cannot be read."""
    if not container_id:
        return None
    for d in _v1_dirs(container_id, "memory", root) + _v2_dirs(container_id, root):
        usage = _read_first([d / "memory.usage_in_bytes", d / "memory.current"])
        if usage is None:
            continue
        stat = _read_first([d / "memory.stat"]) or ""
        return parse_memory_used(int(usage), stat)
    return None


def parse_memory_used(usage: int, stat_text: str) -> int:
    """``usage`` minus the inactive page cache, as ``docker stats`` computes it
    (``total_inactive_file`` on cgroup v1, ``inactive_file`` on v2)."""
    fields = dict(line.split(" ", 1) for line in stat_text.splitlines() if " " in line)
    for key in ("total_inactive_file", "inactive_file"):
        if key in fields and fields[key].strip().isdigit():
            return max(0, usage - int(fields[key]))
    return usage


def read_cpu_seconds(container_id: str, root: str = CGROUP_ROOT) -> float | None:
    """CPU seconds the container has used since it started, or None."""
    if not container_id:
        return None
    for d in _v1_dirs(container_id, "cpuacct", root):
        text = _read_first([d / "cpuacct.usage"])
        if text is not None and text.strip().isdigit():
            return int(text) / 1e9  # nanoseconds
    for d in _v2_dirs(container_id, root):
        text = _read_first([d / "cpu.stat"])
        for line in (text or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec" and value.strip().isdigit():
                return int(value) / 1e6
    return None


def stats_reading(stats: dict[str, Any]) -> dict[str, Any]:
    """Memory (bytes, page cache excluded) and CPU (% of one core) from one answer of
    an engine's stats endpoint (``GET /containers/{id}/stats?stream=false``, which
    holds this sample and the one a second before), as ``docker stats`` computes
    them: for a server on another machine, whose cgroups the hub cannot read."""
    mem = stats.get("memory_stats") or {}
    used = None
    if isinstance(mem.get("usage"), int):
        inner = mem.get("stats") or {}
        cache = inner.get("total_inactive_file", inner.get("inactive_file"))
        used = max(0, mem["usage"] - cache) if isinstance(cache, int) else mem["usage"]
    cpu, pre = stats.get("cpu_stats") or {}, stats.get("precpu_stats") or {}
    percent = None
    try:
        cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        system_delta = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
        cores = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or []) or 1
        if system_delta > 0 and cpu_delta >= 0:
            percent = round(100.0 * cores * cpu_delta / system_delta, 1)
    except (KeyError, TypeError):
        pass
    return {"memory_used": used, "cpu_percent": percent}
