"""Classroom-rush benchmark: QuotaDockerSpawner against stock DockerSpawner, one run.

    sudo ./scripts/test.sh --co -q >/dev/null   # once: engine, proxy, image, venv
    sudo .venv/bin/python benchmarks/rush.py [--sizes 10 20 40] [--repeat 5]

Three spawners, on the same machine, image and memory limit (300M), host networking:
  - stock: DockerSpawner 14 (the minimal host-network subclass) at its defaults
    (start_timeout 60 s, http_timeout 30 s);
  - stock-patient: the same, as patient as the kit (start_timeout and
    http_timeout = the kit's queue_timeout + start_after_queue_timeout = 1020 s);
  - kit: QuotaDockerSpawner with a new 10 GiB loopfile home per user, its defaults.
Each measurement runs the three in turn, the order rotated from one measurement
to the next, each with a fresh hub. Measured:
  1. time to ready of a first spawn and a re-spawn (median of --repeat);
  2. a rush of N simultaneous spawns: ready count, median/p95 time to ready, wall;
  3. the hub API's latency (GET /hub/api/users/NAME every 0.1 s) during the rush,
     with its sample count (a p99 needs 100 samples; fewer: the max is given);
  4. the physical floor: N x (CPU-seconds of one server start) / cores.
Prints a table and writes benchmarks/results/rush-<time>.json (kept in git). Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dockerspawner import DockerSpawner
from harness import (
    CORES,
    IMAGE,
    PREFIX,
    RESULTS,
    describe,
    ensure_user,
    hub_config,
    running_hub,
    spawn_and_wait,
    stat,
    stop_all,
    timed_rush,
    unmount_below,
)
from jupyterhub.utils import random_port

KIT_PATIENCE = 900 + 120  # the kit's default queue_timeout + start_after_queue_timeout


class HostNetworkDockerSpawner(DockerSpawner):
    """The smallest change that lets stock DockerSpawner use host networking."""

    async def start(self):
        self.port = random_port()
        return await super().start()

    async def get_ip_and_port(self):
        return "127.0.0.1", self.port


def stock_config(patient: bool = False):
    c = hub_config()
    c.JupyterHub.spawner_class = HostNetworkDockerSpawner
    s = c.HostNetworkDockerSpawner
    s.image, s.network_name, s.use_internal_ip = IMAGE, "host", True
    s.prefix, s.pull_policy, s.mem_limit = PREFIX, "never", "300M"
    s.remove = True  # like the kit: a fresh container per start
    s.poll_interval = 5
    if patient:
        s.start_timeout = s.http_timeout = KIT_PATIENCE
    return c


def kit_config(homes: str, concurrent_starts: int | None = None, with_homes: bool = True):
    c = hub_config()
    c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
    s = c.QuotaDockerSpawner
    s.image, s.network_name, s.prefix, s.pull_policy = IMAGE, "host", PREFIX, "never"
    s.mem_limit = "300M"
    s.poll_interval = 5
    if with_homes:
        s.home_provisioner, s.disk_limit = "loopfile", "10G"
    if concurrent_starts:
        s.concurrent_starts = concurrent_starts
    c.HomeProvisioner.base_dir = homes
    return c


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


async def single(app, label, repeat, docker_client):
    first, again, cpu = [], [], []
    for i in range(repeat):
        name = f"{label}-single{i}"
        ensure_user(app, name)
        first.append(await spawn_and_wait(app, name))
        if app.users[name].running:
            container = docker_client.containers.get(app.users[name].spawner.container_name)
            cpu.append(cpu_seconds_of(container.id))
        await stop_all(app, [name])
        again.append(await spawn_and_wait(app, name))
        await stop_all(app, [name])
    return {
        "first_s": stat(first),
        "respawn_s": stat(again),
        "first_all_s": first,
        "respawn_all_s": again,
        "failed": sum(t is None for t in first + again),
        "cpu_seconds_per_start": statistics.median([c for c in cpu if c]) if cpu else None,
    }


async def rush(app, label, n):
    return await timed_rush(app, [f"{label}-rush{n}-{i}" for i in range(n)])


def remove_leftovers(docker_client):
    import contextlib

    import docker

    for c in docker_client.containers.list(all=True, filters={"name": PREFIX}):
        # removed meanwhile (a stopped server of ``remove=True``, the pool's clean-up)
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)


def rotated(labels, k):
    k %= len(labels)
    return labels[k:] + labels[:k]


async def run_all(configs, sizes, repeat, docker_client):
    """Every measurement runs each spawner with a fresh hub, in rotating order."""
    labels = list(configs)
    results = {label: {"single": None, "rush": {}} for label in labels}
    order_log = []
    steps = [("single", None)] + [("rush", n) for n in sizes]
    for k, (what, n) in enumerate(steps):
        order = rotated(labels, k)
        order_log.append({"measurement": what if n is None else f"rush {n}", "order": order})
        for label in order:
            print(f"[{label}] {what} {n or ''} ...", file=sys.stderr)
            async with running_hub(configs[label]()) as app:
                if what == "single":
                    results[label]["single"] = await single(app, label, repeat, docker_client)
                else:
                    results[label]["rush"][n] = await rush(app, label, n)
            remove_leftovers(docker_client)
    return results, order_log


def fmt(v, spec="{:.1f}"):
    return "-" if v is None else spec.format(v)


def report(results, sizes, cpu):
    print(
        f"\nmachine: {platform.node()} {platform.machine()}, {CORES} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB"
    )
    print(f"one server start costs {cpu:.2f} CPU-seconds (stock, median)\n")
    stock = results["stock"]["single"]
    print("single spawn, s            median (spread, samples)        vs stock")
    for label, r in results.items():
        for key, name in (("first_s", "first"), ("respawn_s", "re-spawn")):
            st = r["single"][key]
            ratio = st["median"] / stock[key]["median"] if st.get("n") else None
            print(f"  {label:<14} {name:<9} {describe(st):<30} {fmt(ratio, '{:.2f}')}")
    print(
        "\nrush  spawner        ready   time to ready, s              wall s  wall/floor  "
        "hub API ms"
    )
    for n in sizes:
        floor = n * cpu / CORES
        for label, r in results.items():
            x = r["rush"][n]
            ratio = x["wall_s"] / floor if x["wall_s"] else None
            print(
                f"  {n:<3} {label:<14} {x['ready']:>3}/{n:<3} {describe(x['ready_s']):<30} "
                f"{fmt(x['wall_s']):>6} {fmt(ratio, '{:.2f}'):>10}  "
                f"{describe(x['api_ms'], spec='{:.0f}')}"
            )
        print(f"      (floor {floor:.1f} s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrent-starts", type=int, help="the kit's limit (default: its own)")
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
        configs = {
            "stock": stock_config,
            "stock-patient": lambda: stock_config(patient=True),
            "kit": lambda: kit_config(homes, args.concurrent_starts, not args.no_homes),
        }
        try:
            results, order = asyncio.run(run_all(configs, args.sizes, args.repeat, client))
        finally:
            unmount_below(tmp)
    cpu = results["stock"]["single"]["cpu_seconds_per_start"]
    report(results, args.sizes, cpu)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"rush-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(
        json.dumps(
            {
                "machine": {"node": platform.node(), "cores": CORES, "kernel": platform.release()},
                "image": IMAGE,
                "args": vars(args),
                "order": order,
                "cpu_seconds_per_start": cpu,
                "results": {
                    k: {**v, "rush": {str(n): x for n, x in v["rush"].items()}}
                    for k, v in results.items()
                },
            },
            indent=1,
        )
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
