"""The hub's side of a class measured as browsers make it (benchmarks/classload.py).

:func:`class_rush` gives each student a token of their own, runs the students in
one process of their own (each asks for their server, then follows its progress
stream) and the hub API's latency sampler in another, and reads where the CPU
went meanwhile: the hub's process (this one: the hub and nothing of the
clients), the servers' containers (their cgroups), the engine (dockerd and
containerd) and the proxy, from /proc and the cgroup files.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import admin_headers, ensure_user, stat, stop_all
from jupyterhub.tests.utils import public_host, public_url

CLASSLOAD = Path(__file__).resolve().parent / "classload.py"
TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and of its waited-for children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK


def pids_named(*names: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm in names:
                out.append(int(entry.name))
    return out


def containers_cpu(prefix: str) -> float:
    """CPU seconds of every running container whose name starts with ``prefix``
    (the pool's members and the servers), from the docker engine's cgroups."""
    import docker
    from rush import cpu_seconds_of

    client = docker.from_env()
    total = 0.0
    for c in client.containers.list(filters={"name": prefix}):
        total += cpu_seconds_of(c.id) or 0.0
    client.close()
    return total


class CpuReader:
    """CPU seconds of the hub, the engine, the proxy and the servers since start()."""

    def __init__(self, app: Any, container_prefix: str) -> None:
        proxy = getattr(app.proxy, "proxy_process", None)
        self.parts = {
            "hub": [os.getpid()],
            "engine": pids_named("dockerd", "containerd", "containerd-shim", "docker-proxy"),
            "proxy": [proxy.pid] if proxy is not None else [],
        }
        self.prefix = container_prefix
        self.before: dict[str, float] = {}

    def read(self) -> dict[str, float]:
        out = {part: sum(process_cpu(p) for p in pids) for part, pids in self.parts.items()}
        out["hub"] = time.process_time()  # this process alone (its own threads included)
        out["servers"] = containers_cpu(self.prefix)
        return out

    def start(self) -> None:
        self.before = self.read()

    def since(self) -> dict[str, float]:
        now = self.read()
        return {k: round(now[k] - self.before.get(k, 0.0), 2) for k in now}


async def class_rush(
    app: Any,
    names: list[str],
    *,
    arrivals: list[float],
    container_prefix: str,
    browser: bool = False,
    sample_every: float = 0.02,
    before_stop: Any = None,
) -> dict[str, Any]:
    """Students ``names`` arrive at ``arrivals`` (seconds), each in the students'
    process, following their progress stream; then every server is stopped.

    Servers the rush leaves running are counted by ``container_prefix`` for their
    CPU (the servers, the pool's members)."""
    for name in names:
        ensure_user(app, name)
    host = public_host(app)
    hub = public_url(app).rstrip("/")  # the host and the hub's base URL
    plan = {
        "hub": hub,
        "host": host,
        "browser": browser,
        "students": [
            {"name": n, "token": app.users[n].new_api_token(note="classload"), "at": at}
            for n, at in zip(names, arrivals, strict=True)
        ],
    }
    work = Path(tempfile.mkdtemp(prefix="jhub-kit-class-"))
    (work / "plan.json").write_text(json.dumps(plan))
    token = admin_headers(app)["Authorization"].split(" ", 1)[1]
    sampler = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CLASSLOAD),
        "sample",
        f"{hub}/hub/api/users/admin",
        token,
        str(sample_every),
        str(work / "stop"),
        str(work / "sampled.json"),
    )
    cpu = CpuReader(app, container_prefix)
    cpu.start()
    t0 = time.monotonic()
    students = await asyncio.create_subprocess_exec(
        sys.executable, str(CLASSLOAD), "students", str(work / "plan.json"), str(work / "out.json")
    )
    await students.wait()
    wall = time.monotonic() - t0
    spent = cpu.since()
    (work / "stop").touch()
    await sampler.wait()
    extra = before_stop() if before_stop else {}
    if asyncio.iscoroutine(extra):
        extra = await extra
    await stop_all(app, names)
    out = json.loads((work / "out.json").read_text())
    series = json.loads((work / "sampled.json").read_text())["series"]
    ready = [s["ready_s"] for s in out["students"] if "ready_s" in s]
    errors = [f"{s['name']}: {s['error']}" for s in out["students"] if "error" in s]
    latencies = [ms for _t, ms, _code in series]
    return {
        "n": len(names),
        "arrival_span_s": round(max(arrivals) if arrivals else 0.0, 2),
        "ready": len(ready),
        "ready_s": stat(ready),
        "errors": errors[:10],
        "wall_s": wall,
        "api_ms": stat(latencies),
        "api_series": series,
        "cpu_s": spent,
        "cpu_per_start_s": round(sum(spent.values()) / max(1, len(ready)), 3),
        "client_cpu_s": out["client_cpu_s"],
        "lab_first_s": stat([s["lab_first_s"] for s in out["students"] if "lab_first_s" in s]),
        "students": out["students"],
        **(extra or {}),
    }
