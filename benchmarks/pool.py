"""Warm-pool benchmark: pooled kit, cold kit and stock DockerSpawner, one run.

    sudo ./scripts/test.sh --co -q >/dev/null   # once: engine, proxy, image, venv
    sudo .venv/bin/python benchmarks/pool.py [--sizes 10 20 40] [--repeat 5]

Same machine, image, memory limit (300M), host networking, no homes:
  - stock: DockerSpawner 14 (benchmarks/rush.py's host-network subclass);
  - kit-cold: QuotaDockerSpawner, no pool;
  - kit-pool: QuotaDockerSpawner with ``pool_size`` = the rush's N (5 for the
    single spawns), the pool filled before each measurement.
Measured: time to ready of one spawn (median of --repeat); a rush of N at once:
ready count, median/p95, wall, hub API latency; the CPU one pooled start costs in
its container after assignment, against a whole cold start's. Writes
benchmarks/results/pool-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time

from harness import (
    CORES,
    describe,
    ensure_user,
    running_hub,
    spawn_and_wait,
    stat,
    stop_all,
    timed_rush,
    write_results,
)
from rush import cpu_seconds_of, kit_config, remove_leftovers, stock_config


def pool_config(size: int, pool_dir: str):
    c = kit_config("/nonexistent", with_homes=False)
    c.QuotaDockerSpawner.pool_size = size
    c.QuotaDockerSpawner.pool_dir = pool_dir
    return c


async def filled(app, size: int, timeout: float = 900) -> float:
    """Start the pool (the hub's first spawner does) and wait until it is full."""
    ensure_user(app, "filler")
    pool = app.users["filler"].spawner.warm_pool()
    t0 = time.monotonic()
    while len(pool.ready) < size:
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"pool not filled: {pool.status()}")
        await asyncio.sleep(0.2)
    return time.monotonic() - t0


async def single(app, label, repeat, pooled):
    times, cpu, fills = [], [], []
    for i in range(repeat):
        if pooled:
            fills.append(await filled(app, app.users["filler"].spawner.pool_size))
        before = 0.0
        if pooled:  # the member the start will take: its CPU so far (the imports)
            before = cpu_seconds_of(app.users["filler"].spawner.warm_pool().ready[0].id) or 0.0
        name = f"{label}-single{i}"
        ensure_user(app, name)
        times.append(await spawn_and_wait(app, name))
        sp = app.users[name].spawner
        if sp.object_id:
            used = cpu_seconds_of(sp.object_id)
            cpu.append(None if used is None else used - before)
        await stop_all(app, [name])
    return {
        "ready_s": stat(times),
        "all_s": times,
        "cpu_seconds": statistics.median([c for c in cpu if c]) if any(cpu) else None,
        "failed": sum(t is None for t in times),
    }


async def measure(label, make, sizes, repeat, pool_dir, docker_client):
    out: dict = {"rush": {}}
    pooled = label == "kit-pool"
    async with running_hub(make(5) if pooled else make()) as app:
        if pooled:
            out["fill_5_s"] = await filled(app, 5)
        out["single"] = await single(app, label, repeat, pooled)
    remove_leftovers(docker_client)
    for n in sizes:
        async with running_hub(make(n) if pooled else make()) as app:
            if pooled:
                out[f"fill_{n}_s"] = await filled(app, n)
                pool = app.users["filler"].spawner.warm_pool()
            print(f"[{label}] rush {n} ...", file=sys.stderr)
            names = [f"{label}-r{n}-{i}" for i in range(n)]
            # sampled often: a pooled rush is short, and p99 needs 100 samples
            out["rush"][str(n)] = await timed_rush(app, names, sample_every=0.02)
            if pooled:
                out["rush"][str(n)]["from_pool"] = pool.assigned_total
        remove_leftovers(docker_client)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--spawners", nargs="+", default=["stock", "kit-cold", "kit-pool"], help="which to run"
    )
    args = parser.parse_args()
    import docker

    client = docker.from_env()
    results = {}
    with tempfile.TemporaryDirectory(prefix="jhub-kit-bench-") as tmp:
        import os

        os.chdir(tmp)
        pool_dir = os.path.join(tmp, "pool")
        makers = {
            "stock": stock_config,
            "kit-cold": lambda: kit_config("/nonexistent", with_homes=False),
            "kit-pool": lambda n: pool_config(n, pool_dir),
        }
        try:
            for label, make in makers.items():
                if label not in args.spawners:
                    continue
                print(f"[{label}] ...", file=sys.stderr)
                results[label] = asyncio.run(
                    measure(label, make, args.sizes, args.repeat, pool_dir, client)
                )
        finally:
            from harness import unmount_below

            unmount_below(tmp)
    print(f"\nmachine: {platform.node()}, {CORES} cores")
    first = results.get("stock") or next(iter(results.values()))
    base = first["single"]["ready_s"]["median"]
    print("single spawn, s       median (spread, samples)     vs stock   CPU-s in the container")
    for label, r in results.items():
        st = r["single"]["ready_s"]
        cpu = r["single"]["cpu_seconds"]
        print(
            f"  {label:<10} {describe(st, spec='{:.2f}'):<32} {st['median'] / base:>5.2f}   "
            + ("-" if cpu is None else f"{cpu:.2f}")
        )
    print("\nrush  spawner     ready   time to ready, s            wall s   hub API ms   hub CPU-s")
    for n in args.sizes:
        for label, r in results.items():
            x = r["rush"][str(n)]
            wall = "-" if x["wall_s"] is None else f"{x['wall_s']:.1f}"
            extra = f"  ({x['from_pool']} from the pool)" if "from_pool" in x else ""
            print(
                f"  {n:<3} {label:<10} {x['ready']:>3}/{n:<3} {describe(x['ready_s']):<28} "
                f"{wall:>6}   {describe(x['api_ms'], spec='{:.0f}'):<20} "
                f"{x['hub_cpu_s']:.1f}{extra}"
            )
    slow = [
        f"{label} {n}: {r['rush'][str(n)]['api_slow']}"
        for n in args.sizes
        for label, r in results.items()
        if r["rush"][str(n)]["api_slow"]
    ]
    if slow:
        print("\nhub API answers over 100 ms (seconds into the rush, ms):\n  " + "\n  ".join(slow))
    write_results("pool", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
