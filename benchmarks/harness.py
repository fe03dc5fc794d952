"""What the benchmarks share: a hub config, spawn-and-wait, API latency sampling,
and honest statistics (every figure says how many samples it has)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from jupyterhub.tests.mocking import MockHub
from jupyterhub.tests.utils import auth_header, public_url
from jupyterhub.utils import url_path_join
from traitlets.config import Config

# the tests' in-process hub harness (tests/support/kit_testing.py), not part of the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
from kit_testing import ensure_user, running_hub  # noqa: F401

# The benchmark's HTTP clients block a thread each until the hub answers (a spawn
# request up to slow_spawn_timeout): a thread per request of a rush of 100, and
# the latency sampler on threads of its own, or the sampler's requests would wait
# for the spawn requests' threads and be counted as the hub's slowness.
REQUEST_THREADS = ThreadPoolExecutor(256, thread_name_prefix="bench-request")
SAMPLER_THREADS = ThreadPoolExecutor(4, thread_name_prefix="bench-sampler")


async def in_client_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A blocking HTTP call on one of the rush's request threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(REQUEST_THREADS, functools.partial(fn, *args, **kwargs))


async def in_sampler_thread(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A blocking HTTP call of the latency sampler's, never queued behind the rush."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(SAMPLER_THREADS, functools.partial(fn, *args, **kwargs))


# MockHub scans every user's activity every 2 s (for JupyterHub's own tests); a
# real hub does it every 300 s (JupyterHub.last_activity_interval's default).
MockHub.last_activity_interval = 300

IMAGE = os.environ.get("JHUB_KIT_TEST_IMAGE", "jhub-kit-singleuser:latest")
CORES = len(os.sched_getaffinity(0))
PREFIX = "jhubkit-bench"
RESULTS = Path(__file__).resolve().parent / "results"


def hub_config() -> Config:
    """A hub with the dummy authenticator and an admin that the API calls act as."""
    c = Config()
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.admin_users = {"admin"}
    return c


def stat(values: list[float]) -> dict[str, Any]:
    """Median, p95 and max with the sample count. A percentile is only given
    when there are enough samples for it to differ from the max (p95: 20, p99: 100)."""
    v = sorted(x for x in values if x is not None)
    out: dict[str, Any] = {"n": len(v)}
    if not v:
        return out
    out["median"] = statistics.median(v)
    out["max"] = v[-1]
    if len(v) >= 20:
        out["p95"] = v[round(0.95 * (len(v) - 1))]
    if len(v) >= 100:
        out["p99"] = v[round(0.99 * (len(v) - 1))]
    return out


def describe(s: dict[str, Any], unit: str = "", spec: str = "{:.1f}") -> str:
    """``12.5 (p95 20.1, n=40)``; a max instead of a percentile that n cannot support."""
    if not s.get("n"):
        return "-"
    tail = (
        f"p99 {spec.format(s['p99'])}"
        if "p99" in s
        else (f"p95 {spec.format(s['p95'])}" if "p95" in s else f"max {spec.format(s['max'])}")
    )
    return f"{spec.format(s['median'])}{unit} ({tail}, n={s['n']})"


def admin_headers(app: Any) -> dict[str, str]:
    """One API token per hub for the benchmark's calls: making one per request
    (a database commit in the hub's event loop) would be the benchmark's load."""
    if getattr(app, "_benchmark_headers", None) is None:
        app._benchmark_headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}
    return app._benchmark_headers


async def spawn_and_wait(
    app: Any, name: str, timeout: float = 1200.0, marks: dict[str, float] | None = None
) -> float | None:
    """Seconds from the spawn request to the server being ready, or None if it failed.
    ``marks`` gets the monotonic times of the request and of ready."""
    url = url_path_join(public_url(app), "hub/api/users", name, "server")
    headers = admin_headers(app)
    t0 = time.monotonic()
    if marks is not None:
        marks["requested"] = t0
    r = await in_client_thread(requests.post, url, headers=headers, timeout=timeout)
    if r.status_code not in (201, 202):
        return None
    user = app.users[name]
    while time.monotonic() - t0 < timeout:
        if user.running and not user.spawner.pending:
            if marks is not None:
                marks["ready"] = time.monotonic()
            return time.monotonic() - t0
        if not user.spawner.pending and not user.running:
            return None
        await asyncio.sleep(0.05)
    return None


async def stop_all(app: Any, names: list[str]) -> None:
    from jupyterhub.tests.utils import api_request

    for n in names:
        if app.users[n].running or app.users[n].spawner.pending:
            await api_request(app, "users", n, "server", method="delete")
    for n in names:
        while app.users[n].running or app.users[n].spawner.pending:
            await asyncio.sleep(0.1)


async def sample_latency(
    app: Any,
    stop: asyncio.Event,
    out: list[float],
    every: float = 0.1,
    when: list[float] | None = None,
) -> None:
    """GET /hub/api/users/admin until ``stop``; milliseconds into ``out`` (and the
    monotonic time each request was sent into ``when``)."""
    url = url_path_join(public_url(app), "hub/api/users/admin")
    headers = admin_headers(app)
    session = requests.Session()
    deadline = time.monotonic() + 1800
    while not stop.is_set() and time.monotonic() < deadline:
        sent, t0 = time.monotonic(), time.perf_counter()
        await in_sampler_thread(session.get, url, headers=headers, timeout=30)
        out.append((time.perf_counter() - t0) * 1000)
        if when is not None:
            when.append(sent)
        await asyncio.sleep(every)


def unmount_below(path: str) -> None:
    import subprocess

    for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
        mp = line.split()[4]
        if mp.startswith(path):
            subprocess.run(["umount", "-l", mp], check=False)


async def timed_rush(
    app: Any,
    names: list[str],
    before_stop: Any = None,
    sample_every: float = 0.1,
    marks: dict[str, dict[str, float]] | None = None,
) -> dict[str, Any]:
    """Spawn ``names`` at once, sampling the hub API meanwhile; then stop them.
    ``before_stop()`` (a function or a coroutine function) may add figures while
    the servers still run. ``hub_cpu_s``:
    the CPU this process (the hub, and the benchmark's client threads) used."""
    for name in names:
        ensure_user(app, name)
    stop, latencies, sent = asyncio.Event(), [], []  # type: ignore[var-annotated]
    sampler = asyncio.create_task(
        sample_latency(app, stop, latencies, every=sample_every, when=sent)
    )
    t0, cpu0 = time.monotonic(), time.process_time()
    marks = {} if marks is None else marks
    for name in names:
        marks[name] = {}
    times = await asyncio.gather(*(spawn_and_wait(app, n, marks=marks[n]) for n in names))
    wall, hub_cpu = time.monotonic() - t0, time.process_time() - cpu0
    stop.set()
    await sampler
    extra = before_stop() if before_stop else {}
    if inspect.isawaitable(extra):
        extra = await extra
    extra["t0"] = t0
    await stop_all(app, names)
    ok = [t for t in times if t is not None]
    return {
        "n": len(names),
        "ready": len(ok),
        "ready_s": stat(ok),
        "wall_s": wall if len(ok) == len(names) else None,
        "api_ms": stat(latencies),
        # when the slow answers came: seconds into the rush, milliseconds
        "api_slow": [
            (round(w - t0, 2), round(ms)) for w, ms in zip(sent, latencies, strict=True) if ms > 100
        ],
        "hub_cpu_s": hub_cpu,
        # every answer: seconds into the rush, milliseconds
        "api_series": [
            (round(w - t0, 3), round(ms, 1)) for w, ms in zip(sent, latencies, strict=True)
        ],
        **extra,
    }


def write_results(kind: str, payload: dict[str, Any]) -> Path:
    """``benchmarks/results/KIND-<time>.json`` with the machine and image; printed."""
    import json
    import platform

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{kind}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    machine = {"node": platform.node(), "cores": CORES, "kernel": platform.release()}
    path.write_text(json.dumps({"machine": machine, "image": IMAGE, **payload}, indent=1))
    print(f"\nwrote {path}")
    return path
