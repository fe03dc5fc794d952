"""A class arriving, measured as browsers make it: stock DockerSpawner (at its
defaults, and as patient as the kit), the kit's cold path and the kit's pool, in
one run.

    sudo ./scripts/test.sh --co -q >/dev/null   # once: engine, proxy, image, venv
    sudo .venv/bin/python benchmarks/classroom.py --students 100 \\
        --arrivals once uniform:120 bell:120 uniform:10 \\
        [--spawners stock stock-patient kit-cold kit-pool]

Each arrival pattern is run for each spawner on a hub of its own (host network,
the test image, 300M, no homes; the pool holds one member per student and is full
before the first student arrives). The students are one process of their own
(benchmarks/classload.py): each asks for its server with its own token and
follows the progress stream, as the spawn-pending page does; ``--browser`` adds
JupyterLab's first requests. The hub API's latency is sampled from another
process every 20 ms. CPU is read from /proc and the containers' cgroups: the
hub's process, the servers, the engine, the proxy. Writes
benchmarks/results/classroom-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile

from classload import arrivals as arrival_times
from classrun import class_rush
from harness import CORES, describe, running_hub, write_results
from pool import filled, pool_config
from rush import kit_config, remove_leftovers, stock_config


def parse_arrival(text: str) -> tuple[str, float]:
    """``once``, ``uniform:120`` or ``bell:120`` (seconds)."""
    pattern, _, span = text.partition(":")
    if pattern not in ("once", "uniform", "bell") or (pattern != "once" and not span):
        raise argparse.ArgumentTypeError(f"{text!r}: once, uniform:SECONDS or bell:SECONDS")
    return pattern, float(span or 0)


async def one(label: str, n: int, arrival: tuple[str, float], args, pool_dir: str) -> dict:
    pooled = label == "kit-pool"
    if label in ("stock", "stock-patient"):
        # stock-patient: start_timeout and http_timeout as long as the kit's queue and
        # start together (rush.py's): no student is lost to JupyterHub's 60 s
        config = stock_config(patient=label == "stock-patient")
    elif pooled:
        config = pool_config(n, pool_dir, dashboard=args.dashboard)
    else:
        config = kit_config("/nonexistent", args.concurrent_starts, with_homes=False)
    pattern, span = arrival
    async with running_hub(config) as app:
        fill = await filled(app, n) if pooled else None
        pool = app.users["filler"].spawner.warm_pool() if pooled else None
        await asyncio.sleep(2)  # the fill's last engine calls settle
        names = [f"{label}-{pattern}{int(span)}-{i}" for i in range(n)]
        print(f"[{label}] {n} students, {pattern} over {span:g} s ...", file=sys.stderr)
        out = await class_rush(
            app,
            names,
            arrivals=arrival_times(n, pattern, span, args.seed),
            container_prefix="",  # every container: each is a server or a member
            browser=args.browser,
        )
        if pool is not None:
            out["from_pool"] = pool.assigned_total
            out["fill_s"] = fill
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument(
        "--arrivals", type=parse_arrival, nargs="+", default=[("once", 0.0), ("uniform", 120.0)]
    )
    parser.add_argument(
        "--spawners",
        nargs="+",
        choices=["stock", "stock-patient", "kit-cold", "kit-pool"],
        default=["stock", "kit-cold", "kit-pool"],
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--concurrent-starts",
        type=int,
        default=None,
        help="the kit's cold path: c.QuotaDockerSpawner.concurrent_starts (its default: cores)",
    )
    parser.add_argument("--browser", action="store_true", help="JupyterLab's first requests too")
    parser.add_argument(
        "--dashboard", action="store_true", help="the class dashboard's service in the pool's hub"
    )
    args = parser.parse_args()
    import docker

    client = docker.from_env()
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="jhub-kit-class-") as tmp:
        os.chdir(tmp)
        pool_dir = os.path.join(tmp, "pool")
        try:
            for pattern, span in args.arrivals:
                key = pattern if pattern == "once" else f"{pattern}:{span:g}"
                for label in args.spawners:
                    results.setdefault(key, {})[label] = asyncio.run(
                        one(label, args.students, (pattern, span), args, pool_dir)
                    )
                    remove_leftovers(client)
        finally:
            from harness import unmount_below

            unmount_below(tmp)
    print(f"\n{args.students} students, {CORES} cores")
    print("arrivals      spawner    ready    time to ready, s             hub API ms (p99)")
    for key, by in results.items():
        for label, r in by.items():
            print(
                f"  {key:<11} {label:<9} {r['ready']:>3}/{r['n']:<3} "
                f"{describe(r['ready_s'], spec='{:.2f}'):<28} "
                f"{describe(r['api_ms'], spec='{:.0f}')}"
            )
    print("\nCPU-s during the arrivals: hub, servers, engine, proxy (per ready start)")
    for key, by in results.items():
        for label, r in by.items():
            c = r["cpu_s"]
            print(
                f"  {key:<11} {label:<9} {c.get('hub', 0):>6.1f} {c.get('servers', 0):>7.1f} "
                f"{c.get('engine', 0):>7.1f} {c.get('proxy', 0):>6.1f}   "
                f"({r['cpu_per_start_s']:.3f}; the students' own process {r['client_cpu_s']:.1f})"
            )
    write_results(
        "classroom", {"args": {**vars(args), "arrivals": args.arrivals}, "results": results}
    )


if __name__ == "__main__":
    main()
