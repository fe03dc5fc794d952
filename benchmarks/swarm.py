"""Swarm benchmark: QuotaSwarmSpawner on a 3-node swarm against QuotaDockerSpawner on
one host, in one run.

    sudo ./scripts/test.sh --co -q >/dev/null   # once: engine, proxy, image, venv
    sudo .venv/bin/python benchmarks/swarm.py [--nodes 3] [--rush 40] [--repeat 5]

The swarm is the test rig (tests/support/swarmrig.py): dockerd nodes in network
namespaces of this machine, the hub in the root namespace at 10.213.0.1. Both
spawners: the same image, memory limit (300M), host networking, no homes, their
default start queues (one host: the hub's cores; the swarm: its nodes' cores).
All nodes share this machine's cores, so no speed-up can show: what is measured
is the engine's overhead and that nobody is lost.

  1. time to ready of one spawn (median of --repeat), swarm / one host;
  2. a rush of N simultaneous spawns: ready count, median/p95, wall, hub API
     latency during the rush (GET every 0.1 s), and how the swarm spread them.

Prints a table and writes benchmarks/results/swarm-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import platform
import sys
import tempfile
from pathlib import Path

from harness import (
    CORES,
    IMAGE,
    PREFIX,
    describe,
    ensure_user,
    hub_config,
    running_hub,
    spawn_and_wait,
    stat,
    stop_all,
    timed_rush,
    write_results,
)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from swarmrig import HUB_ADDRESS, Swarm


def one_host_config():
    c = hub_config()
    c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
    c.JupyterHub.hub_ip = HUB_ADDRESS  # the same hub address as the swarm's
    s = c.QuotaDockerSpawner
    s.image, s.network_name, s.prefix, s.pull_policy = IMAGE, "host", PREFIX, "never"
    s.mem_limit, s.poll_interval = "300M", 5
    return c


def swarm_config(manager_sock: str, image: str):
    c = hub_config()
    c.JupyterHub.spawner_class = "jhub_kit.QuotaSwarmSpawner"
    c.JupyterHub.hub_ip = HUB_ADDRESS
    s = c.QuotaSwarmSpawner
    s.client_kwargs = {"base_url": manager_sock}
    s.image, s.network_name, s.prefix = image, "host", PREFIX
    s.mem_limit, s.poll_interval = "300M", 5
    return c


async def single(app, label, repeat):
    times = []
    for i in range(repeat):
        name = f"{label}-single{i}"
        ensure_user(app, name)
        times.append(await spawn_and_wait(app, name))
        await stop_all(app, [name])
    return {"ready_s": stat(times), "all_s": times, "failed": sum(t is None for t in times)}


async def rush(app, label, n):
    names = [f"{label}-rush{i}" for i in range(n)]

    def placement():
        running = [app.users[n].spawner for n in names if app.users[n].running]
        return {
            "per_address": dict(collections.Counter(sp.server.ip for sp in running)),
            "starts_in_flight": app.users[names[0]].spawner.start_gate().limit,
        }

    return await timed_rush(app, names, placement)


async def run(swarm: Swarm, repeat: int, n: int) -> dict:
    configs = {
        "one-host": one_host_config,
        "swarm": lambda: swarm_config(swarm.manager.sock, swarm.image_ref),
    }
    results: dict = {label: {} for label in configs}
    for what in ("single", "rush"):
        order = list(configs) if what == "single" else list(reversed(configs))
        for label in order:
            print(f"[{label}] {what} ...", file=sys.stderr)
            async with running_hub(configs[label]()) as app:
                if what == "single":
                    results[label]["single"] = await single(app, label, repeat)
                else:
                    results[label]["rush"] = await rush(app, label, n)
    return results


def report(results: dict, nodes: int) -> None:
    print(
        f"\nmachine: {platform.node()}, {CORES} cores shared by the hub and {nodes} swarm "
        f"nodes, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1024**3:.0f} GiB"
    )
    base = results["one-host"]["single"]["ready_s"]["median"]
    print("single spawn, s   median (spread, samples)        vs one host")
    for label, r in results.items():
        st = r["single"]["ready_s"]
        print(f"  {label:<14} {describe(st):<32} {st['median'] / base:.2f}")
    print("\nrush  spawner     ready   time to ready, s             wall s   hub API ms")
    for label, r in results.items():
        x = r["rush"]
        print(
            f"  {x['n']:<3} {label:<10} {x['ready']:>3}/{x['n']:<3} {describe(x['ready_s']):<28} "
            f"{x['wall_s'] or 0:>6.1f}   {describe(x['api_ms'], spec='{:.0f}')}"
        )
        print(f"      starts in flight {x['starts_in_flight']}, placed: {x['per_address']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rush", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    swarm = Swarm(size=args.nodes, image=IMAGE)
    with tempfile.TemporaryDirectory(prefix="jhub-kit-bench-") as tmp:
        os.chdir(tmp)  # the hub's pid files stay out of the checkout
        try:
            swarm.start()
            results = asyncio.run(run(swarm, args.repeat, args.rush))
        finally:
            leftovers = swarm.manager.docker("service", "ls", "-q", check=False).stdout.split()
            if leftovers:
                swarm.manager.docker("service", "rm", *leftovers, check=False)
            swarm.stop()
    report(results, args.nodes)
    write_results("swarm", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
