"""Classroom-rush benchmark: QuotaDockerSpawner against stock DockerSpawner, one run.

    sudo ./scripts/test.sh --co -q >/dev/null   # once: engine, proxy, image, venv
    sudo .venv/bin/python benchmarks/rush.py [--sizes 10 20 40] [--repeat 5]

Measures, on the same machine, image and memory limit (300M), host networking:
  1. time to ready of a first spawn and a re-spawn: kit (with a loopfile home)
     vs stock DockerSpawner (the minimal host-network subclass), and the ratio;
  2. a rush of N simultaneous spawns: servers ready, p50/p95 time to ready, wall;
  3. the hub API's latency (p50/p99 of GET /hub/api/users/NAME) during the rush;
  4. the physical floor: N x (CPU-seconds of one server start) / cores.
Prints a table and writes benchmarks/results/rush-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from dockerspawner import DockerSpawner  # noqa: E402
from hubutil import ensure_user, in_client_thread, kit_config, running_hub  # noqa: E402
from jupyterhub.tests.utils import auth_header, public_url  # noqa: E402
from jupyterhub.utils import random_port, url_path_join  # noqa: E402

IMAGE = os.environ.get("JHUB_KIT_TEST_IMAGE", "jhub-kit-singleuser:latest")
CORES = len(os.sched_getaffinity(0))


class HostNetworkDockerSpawner(DockerSpawner):
    """The smallest change that lets stock DockerSpawner use host networking."""

    async def start(self):
        self.port = random_port()
        return await super().start()

    async def get_ip_and_port(self):
        return "127.0.0.1", self.port


def stock_config():
    c = kit_config(IMAGE)
    c.JupyterHub.spawner_class = HostNetworkDockerSpawner
    s = c.HostNetworkDockerSpawner
    s.image, s.network_name, s.use_internal_ip = IMAGE, "host", True
    s.prefix, s.pull_policy, s.mem_limit = "jhubkit-bench", "never", "300M"
    s.remove = True  # like the kit: a fresh container per start
    return c


def kit_bench_config(homes: str, concurrent_starts: int | None = None):
    c = kit_config(IMAGE, mem_limit="300M", home_provisioner="loopfile", disk_limit="10G")
    if concurrent_starts:
        c.QuotaDockerSpawner.concurrent_starts = concurrent_starts
    c.QuotaDockerSpawner.prefix = "jhubkit-bench"
    # the kit's own defaults for timeouts and admission; undo the test rig's
    c.QuotaDockerSpawner.start_timeout = 60 + 900
    c.QuotaDockerSpawner.http_timeout = 30
    c.HomeProvisioner.base_dir = homes
    return c


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, round(p / 100 * (len(v) - 1)))]


async def spawn_and_wait(app, name, timeout=600.0):
    """Seconds from the spawn request to the server being ready, or None if it failed."""
    url = url_path_join(public_url(app), "hub/api/users", name, "server")
    headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}
    t0 = time.monotonic()
    r = await in_client_thread(requests.post, url, headers=headers, timeout=timeout)
    if r.status_code not in (201, 202):
        return None
    user = app.users[name]
    while time.monotonic() - t0 < timeout:
        spawner = user.spawner
        if user.running and not spawner.pending:
            return time.monotonic() - t0
        if not spawner.pending and not user.running:
            return None
        await asyncio.sleep(0.05)
    return None


async def stop_all(app, names):
    from jupyterhub.tests.utils import api_request

    for n in names:
        if app.users[n].running or app.users[n].spawner.pending:
            await api_request(app, "users", n, "server", method="delete")
    for n in names:
        while app.users[n].running or app.users[n].spawner.pending:
            await asyncio.sleep(0.1)


def cpu_seconds_of(container_id: str) -> float | None:
    for path in (
        f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat",
    ):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if path.endswith("cpuacct.usage"):
            return int(text) / 1e9
        for line in text.splitlines():
            if line.startswith("usage_usec"):
                return int(line.split()[1]) / 1e6
    return None


async def sample_latency(app, stop: asyncio.Event, out: list):
    url = url_path_join(public_url(app), "hub/api/users/admin")
    headers = auth_header(app.db, "admin")
    session = requests.Session()
    deadline = time.monotonic() + 900
    while not stop.is_set() and time.monotonic() < deadline:
        t0 = time.perf_counter()
        await in_client_thread(session.get, url, headers=headers, timeout=30)
        out.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.1)


async def single(app, label, repeat, docker_client):
    first, again, cpu = [], [], []
    for i in range(repeat):
        name = f"{label}-single{i}"
        ensure_user(app, name)
        t = await spawn_and_wait(app, name)
        first.append(t)
        container = docker_client.containers.get(app.users[name].spawner.container_name)
        cpu.append(cpu_seconds_of(container.id))
        await stop_all(app, [name])
        again.append(await spawn_and_wait(app, name))
        await stop_all(app, [name])
    return {
        "first_median_s": statistics.median([t for t in first if t]),
        "respawn_median_s": statistics.median([t for t in again if t]),
        "first_all_s": first,
        "respawn_all_s": again,
        "cpu_seconds_per_start": statistics.median([c for c in cpu if c]),
    }


async def rush(app, label, n):
    names = [f"{label}-rush{n}-{i}" for i in range(n)]
    for name in names:
        ensure_user(app, name)
    stop, latencies = asyncio.Event(), []
    sampler = asyncio.create_task(sample_latency(app, stop, latencies))
    t0 = time.monotonic()
    times = await asyncio.gather(*(spawn_and_wait(app, name) for name in names))
    wall = time.monotonic() - t0
    stop.set()
    await sampler
    await stop_all(app, names)
    ok = [t for t in times if t is not None]
    return {
        "n": n,
        "ready": len(ok),
        "p50_s": pct(ok, 50),
        "p95_s": pct(ok, 95),
        "wall_s": wall if ok else None,
        "api_p50_ms": pct(latencies, 50),
        "api_p99_ms": pct(latencies, 99),
        "api_samples": len(latencies),
    }


async def bench(label, config, sizes, repeat, docker_client):
    async with running_hub(config) as app:
        result = {"single": await single(app, label, repeat, docker_client), "rush": []}
        for n in sizes:
            print(f"[{label}] rush of {n} ...", file=sys.stderr)
            result["rush"].append(await rush(app, label, n))
            for c in docker_client.containers.list(all=True, filters={"name": "jhubkit-bench"}):
                c.remove(force=True)
        return result


def fmt(v, spec="{:.1f}"):
    return "-" if v is None else spec.format(v)


def report(stock, kit, sizes):
    cpu = stock["single"]["cpu_seconds_per_start"]
    print(
        f"\nmachine: {platform.node()} {platform.machine()}, {CORES} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB"
    )
    print(f"one server start costs {cpu:.2f} CPU-seconds (stock, median)\n")
    s, k = stock["single"], kit["single"]
    print("single spawn (median s)   stock    kit   kit/stock")
    print(
        f"  first spawn            {s['first_median_s']:6.2f} {k['first_median_s']:6.2f}   "
        f"{k['first_median_s'] / s['first_median_s']:.2f}"
    )
    print(
        f"  re-spawn               {s['respawn_median_s']:6.2f} {k['respawn_median_s']:6.2f}   "
        f"{k['respawn_median_s'] / s['respawn_median_s']:.2f}"
    )
    print("\nrush    spawner  ready  p50 s  p95 s  wall s  floor s  wall/floor  api p50/p99 ms")
    for i, n in enumerate(sizes):
        floor = n * cpu / CORES
        for label, r in (("stock", stock["rush"][i]), ("kit", kit["rush"][i])):
            ratio = r["wall_s"] / floor if r["wall_s"] and r["ready"] == n else None
            print(
                f"  {n:<5} {label:<7} {r['ready']:>3}/{n:<3} {fmt(r['p50_s']):>6} "
                f"{fmt(r['p95_s']):>6} {fmt(r['wall_s']):>7} {floor:8.1f} "
                f"{fmt(ratio, '{:.2f}'):>10}"
                f"  {fmt(r['api_p50_ms'], '{:.0f}')}/{fmt(r['api_p99_ms'], '{:.0f}')}"
            )
    return cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrent-starts", type=int, help="the kit's limit (default: its own)")
    parser.add_argument("--kit-only", action="store_true", help="skip stock (no ratios)")
    parser.add_argument(
        "--no-homes", action="store_true", help="the kit without a home provisioner"
    )
    args = parser.parse_args()
    import docker

    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="jhub-kit-bench-") as tmp:
        os.chmod(tmp, 0o711)
        homes = os.path.join(tmp, "homes")
        os.chdir(tmp)  # the hub's pid files stay out of the checkout

        async def both():
            kit_cfg = kit_bench_config(homes, args.concurrent_starts)
            if args.no_homes:
                kit_cfg.QuotaDockerSpawner.home_provisioner = None
            kit = await bench("kit", kit_cfg, args.sizes, args.repeat, client)
            if args.kit_only:
                return None, kit
            stock = await bench("stock", stock_config(), args.sizes, args.repeat, client)
            return stock, kit

        try:
            stock, kit = asyncio.run(both())
            if stock is None:
                print(json.dumps(kit, indent=1))
                return
        finally:
            for line in reversed(Path("/proc/self/mountinfo").read_text().splitlines()):
                mp = line.split()[4]
                if mp.startswith(tmp):
                    subprocess.run(["umount", "-l", mp], check=False)
    cpu = report(stock, kit, args.sizes)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"rush-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(
        json.dumps(
            {
                "machine": {"node": platform.node(), "cores": CORES, "kernel": platform.release()},
                "image": IMAGE,
                "cpu_seconds_per_start": cpu,
                "stock": stock,
                "kit": kit,
            },
            indent=1,
        )
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
