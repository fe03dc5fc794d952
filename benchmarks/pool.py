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
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

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


def pool_config(
    size: int,
    pool_dir: str,
    *,
    dashboard: bool = False,
    lag_budget: float = 0.1,
    sqlite_wal: bool = False,
    stall_log: float = 0.05,
    lab_extension_manager: str | None = None,
):
    c = kit_config("/nonexistent", with_homes=False)
    if lab_extension_manager:  # what the bundle sets: "readonly"
        c.QuotaDockerSpawner.lab_extension_manager = lab_extension_manager
    if sqlite_wal:  # what the bundle sets (jhub_kit.hubdb)
        from jhub_kit import hubdb

        c.JupyterHub.db_kwargs = hubdb.db_kwargs()
    c.QuotaDockerSpawner.pool_size = size
    c.QuotaDockerSpawner.pool_dir = pool_dir
    c.QuotaDockerSpawner.pool_lag_budget = lag_budget
    c.QuotaDockerSpawner.loop_stall_log = stall_log  # who held the hub's loop
    if dashboard:
        from jhub_kit.config import add_dashboard

        add_dashboard(c, group="")  # the admin opens it
    return c


STALL = 0.05  # callbacks of the hub's loop this long or longer are attributed
PHASES = ("hub_before", "admission", "take", "home", "mounts", "limits", "network")
PHASES += ("hand_over", "answering", "hub_after")


def phases_of(app, names: list[str], marks: dict[str, dict[str, float]]) -> dict[str, dict]:
    """Each phase's statistics over the rush's pooled starts: the kit's own phases
    (the spawner's ``start_phases``), JupyterHub's before the spawner's start (from
    the request) and after it (the proxy route, the database, until ready)."""
    per: dict[str, list[float]] = {p: [] for p in PHASES}
    for n in names:
        sp, m = app.users[n].spawner, marks.get(n, {})
        sm = getattr(sp, "start_marks", {})
        if not (sp.pool_member and "ready" in m and "ended" in sm):
            continue
        per["hub_before"].append(sm["began"] - m["requested"])
        per["hub_after"].append(m["ready"] - sm["ended"])
        for k, v in sp.start_phases.items():
            per[k].append(v)
    return {k: stat(v) for k, v in per.items()}


async def poll_dashboard(app, stop: asyncio.Event, out: list[float], every: float = 2.0):
    """The class dashboard open in an admin's browser: its data every ``every`` s
    (the page itself refreshes every 10 s), milliseconds into ``out``."""
    from jupyterhub.tests.utils import AsyncSession, public_url
    from jupyterhub.utils import url_path_join
    from tornado.httputil import url_concat

    s = AsyncSession()
    login = url_path_join(public_url(app), "hub/login")
    r = await s.get(login)
    await s.post(
        url_concat(login, {"_xsrf": r.cookies["_xsrf"]}),
        data={"username": "admin", "password": "x"},
        allow_redirects=False,
    )
    data = url_path_join(public_url(app), "services/class-dashboard/data.json")
    r = await s.get(data)  # OAuth with the hub, once
    r.raise_for_status()
    while not stop.is_set():
        t0 = time.perf_counter()
        r = await s.get(data)
        out.append((time.perf_counter() - t0) * 1000 if r.status_code == 200 else -1)
        await asyncio.sleep(every)


def lag_series(t0: float) -> list[tuple[float, float]]:
    """The hub loop's lag (seconds into the rush, ms) from 2 s before ``t0``."""
    from jhub_kit.loop import health as loop_health

    h = loop_health.of_this_loop()
    return [(round(t - t0, 3), round(lag * 1000, 1)) for t, lag in h.series(since=t0 - 2)]


def stalls_by_place(limit: int = 12) -> list[dict]:
    """The hub loop's callbacks of STALL or more, grouped by the frame that held it."""
    from jhub_kit.loop import health as loop_health

    groups: dict[tuple[str, str], list] = {}
    for st in loop_health.of_this_loop().stalls:
        groups.setdefault((st.owner, st.where), []).append(st)
    rows = [
        {
            "owner": who,
            "where": where,
            "count": len(v),
            "total_s": round(sum(x.seconds for x in v), 3),
            "max_ms": round(max(x.seconds for x in v) * 1000),
            "cpu_s": round(sum(x.cpu for x in v), 3),
        }
        for (who, where), v in groups.items()
    ]
    return sorted(rows, key=lambda r: -r["total_s"])[:limit]


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


async def measure(label, make, sizes, repeat, pool_dir, docker_client, board_on=True):
    out: dict = {"rush": {}}
    pooled = label == "kit-pool"
    async with running_hub(make(5) if pooled else make()) as app:
        if pooled:
            out["fill_5_s"] = await filled(app, 5)
        out["single"] = await single(app, label, repeat, pooled)
    remove_leftovers(docker_client)
    for n in sizes:
        async with running_hub(make(n, dashboard=board_on) if pooled else make()) as app:
            if pooled:
                out[f"fill_{n}_s"] = await filled(app, n)
                out[f"fill_{n}_cpu"] = fill_cost(app)
                pool = app.users["filler"].spawner.warm_pool()
            print(f"[{label}] rush {n} ...", file=sys.stderr)
            names = [f"{label}-r{n}-{i}" for i in range(n)]
            marks: dict[str, dict[str, float]] = {}
            board: list[float] = []
            stop_board = asyncio.Event()
            poller = (
                asyncio.create_task(poll_dashboard(app, stop_board, board))
                if pooled and board_on
                else None
            )
            if pooled:
                from jhub_kit.loop import health as loop_health

                loop_health.of_this_loop().stalls.clear()
                await asyncio.sleep(3)  # the dashboard open before the bell

            async def while_running(names=names, marks=marks):
                if not pooled:
                    return {}
                return {
                    "phases": phases_of(app, names, marks),
                    "loop_lag_ms": lag_series(min(m["requested"] for m in marks.values())),
                    "stalls": stalls_by_place(),
                    "activity": await activity_costs(app, names),
                }

            # sampled often: a pooled rush is short, and p99 needs 100 samples
            out["rush"][str(n)] = await timed_rush(
                app, names, before_stop=while_running, sample_every=0.02, marks=marks
            )
            if poller is not None:
                stop_board.set()
                await poller
                out["rush"][str(n)]["dashboard_ms"] = stat([b for b in board if b >= 0])
                out["rush"][str(n)]["dashboard_failed"] = sum(b < 0 for b in board)
            if pooled:
                out["rush"][str(n)]["from_pool"] = pool.assigned_total
                first = min(m["requested"] for m in marks.values())
                out["rush"][str(n)]["ready_at"] = sorted(
                    round(m["ready"] - first, 3) for m in marks.values() if "ready" in m
                )
        remove_leftovers(docker_client)
    return out


async def activity_costs(app, names, repeat: int = 3) -> dict:
    """What JupyterHub's activity bookkeeping costs with these servers running: its
    scan of the proxy's routes (``last_activity_interval``, every 300 s by
    default), timed on the hub's loop, and one server's activity report (what
    each server posts every ``JUPYTERHUB_ACTIVITY_INTERVAL``, 300 s by default),
    timed through the proxy."""
    import requests
    from harness import admin_headers, in_client_thread, public_url
    from jupyterhub.utils import url_path_join

    from jhub_kit.loop import health as loop_health

    stalls = loop_health.of_this_loop().stalls

    async def one_scan(autoflush: bool) -> tuple[float, float]:
        """Its wall time and its longest callback (the loop's watch keeps those of
        STALL or more, longest first: the new ones are found by identity), ms."""
        seen = {id(st) for st in stalls}
        t0 = time.perf_counter()
        with contextlib.nullcontext() if autoflush else app.db.no_autoflush:
            await app.update_last_activity()
        wall = (time.perf_counter() - t0) * 1000
        return wall, max((st.seconds * 1000 for st in stalls if id(st) not in seen), default=0.0)

    scans = [await one_scan(autoflush=True) for _ in range(repeat)]
    # JupyterHub's scan looks up each route's user with its own query, and each
    # query first flushes the previous route's change (SQLAlchemy's autoflush):
    # the same scan with autoflush off, one flush at its commit (a proposal, measured)
    unflushed = [await one_scan(autoflush=False) for _ in range(repeat)]
    report = []
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for name in names[: 3 * repeat]:
        url = url_path_join(public_url(app), "hub/api/users", name, "activity")
        body = {"last_activity": now, "servers": {"": {"last_activity": now}}}
        t0 = time.perf_counter()
        r = await in_client_thread(requests.post, url, json=body, headers=admin_headers(app))
        if r.status_code < 300:
            report.append((time.perf_counter() - t0) * 1000)
    return {
        "servers": len(names),
        "scan_ms": stat([wall for wall, _ in scans]),
        "scan_held_loop_ms": stat([held for _, held in scans]),
        "scan_no_autoflush_held_loop_ms": stat([held for _, held in unflushed]),
        "report_ms": stat(report),
    }


def fill_cost(app) -> dict:
    """What the ready members cost: CPU-seconds each spent getting ready (median)
    and their memory now (median, MB), from their cgroups."""

    pool = app.users["filler"].spawner.warm_pool()
    cpu = [cpu_seconds_of(m.id) for m in pool.ready]
    mem = []
    for m in pool.ready:
        for path in (
            f"/sys/fs/cgroup/system.slice/docker-{m.id}.scope/memory.current",
            f"/sys/fs/cgroup/memory/docker/{m.id}/memory.usage_in_bytes",
        ):
            try:
                mem.append(int(Path(path).read_text()) / 1024**2)
                break
            except OSError:
                continue
    return {
        "cpu_s_per_member": statistics.median([c for c in cpu if c]) if any(cpu) else None,
        "mb_per_member": statistics.median(mem) if mem else None,
    }


def plot(results: dict, path) -> None:
    """Loop lag, API latency and readiness over each pooled rush (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return
    rushes = results.get("kit-pool", {}).get("rush", {})
    if not rushes:
        return
    fig, axes = plt.subplots(len(rushes), 1, figsize=(8, 3.2 * len(rushes)), dpi=100)
    axes = axes if len(rushes) > 1 else [axes]
    for ax, (n, r) in zip(axes, rushes.items(), strict=True):
        lag = r.get("loop_lag_ms", [])
        ax.plot([t for t, _ in lag], [v for _, v in lag], lw=0.8, label="hub loop lag, ms")
        api = r.get("api_series", [])
        ax.plot([t for t, _ in api], [v for _, v in api], ".", ms=2, label="hub API answer, ms")
        ax.set_yscale("symlog", linthresh=10)
        ax.set_ylabel("ms")
        ready = sorted(t for t in (r.get("ready_at") or []))
        ax2 = ax.twinx()
        ax2.step(ready, range(1, len(ready) + 1), where="post", color="green", lw=1)
        ax2.set_ylabel("servers ready", color="green")
        st = r["ready_s"]
        tail = f"p95 {st['p95']:.1f} s" if "p95" in st else f"max {st.get('max', 0):.1f} s"
        ax.set_title(f"pooled rush of {n}: ready median {st.get('median', 0):.1f} s, {tail}")
        ax.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("seconds since the first request")
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--spawners", nargs="+", default=["stock", "kit-cold", "kit-pool"], help="which to run"
    )
    parser.add_argument(
        "--lag-budget", type=float, default=0.1, help="the pool's pool_lag_budget (0: off)"
    )
    parser.add_argument("--plot", help="write a PNG of the pooled rushes' loop lag here")
    parser.add_argument(
        "--sqlite-wal", action="store_true", help="the hub's SQLite as the bundle sets it"
    )
    parser.add_argument(
        "--stall-log", type=float, default=STALL, help="loop_stall_log (0: no stall watch)"
    )
    parser.add_argument(
        "--no-dashboard", action="store_true", help="no class dashboard open in the rushes"
    )
    parser.add_argument("--plot-from", help="only plot a results file written earlier")
    parser.add_argument(
        "--lab-extension-manager", help="the pool's servers' lab_extension_manager (readonly)"
    )
    args = parser.parse_args()
    if args.plot:
        args.plot = os.path.abspath(args.plot)  # the runs work in a temporary directory
    if args.plot_from:
        import json

        plot(json.loads(Path(args.plot_from).read_text())["results"], args.plot)
        return
    import docker

    client = docker.from_env()
    results = {}
    with tempfile.TemporaryDirectory(prefix="jhub-kit-bench-") as tmp:
        os.chdir(tmp)
        pool_dir = os.path.join(tmp, "pool")
        makers = {
            "stock": stock_config,
            "kit-cold": lambda: kit_config("/nonexistent", with_homes=False),
            "kit-pool": lambda n, dashboard=False: pool_config(
                n,
                pool_dir,
                dashboard=dashboard,
                lag_budget=args.lag_budget,
                sqlite_wal=args.sqlite_wal,
                stall_log=args.stall_log,
                lab_extension_manager=args.lab_extension_manager,
            ),
        }
        try:
            for label, make in makers.items():
                if label not in args.spawners:
                    continue
                print(f"[{label}] ...", file=sys.stderr)
                results[label] = asyncio.run(
                    measure(
                        label,
                        make,
                        args.sizes,
                        args.repeat,
                        pool_dir,
                        client,
                        board_on=not args.no_dashboard,
                    )
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
    for n in args.sizes:
        r = results.get("kit-pool", {}).get("rush", {}).get(str(n))
        if not r or "phases" not in r:
            continue
        print(
            f"\npooled rush of {n}: fill {results['kit-pool'].get(f'fill_{n}_s', 0):.0f} s, "
            f"members {results['kit-pool'].get(f'fill_{n}_cpu')}"
        )
        print("  phase         median s   p95 s    max s")
        for k, st in r["phases"].items():
            if st.get("n"):
                print(
                    f"  {k:<12} {st['median']:>8.3f} {st.get('p95', st['max']):>7.3f} "
                    f"{st['max']:>8.3f}"
                )
        print(
            f"  dashboard: {describe(r.get('dashboard_ms', {}), spec='{:.0f}')} ms, "
            f"{r.get('dashboard_failed', 0)} failed"
        )
        act = r.get("activity")
        if act:
            print(
                f"  activity with {act['servers']} servers: the hub's scan "
                f"{describe(act['scan_ms'], spec='{:.0f}')} ms (holding the loop "
                f"{describe(act['scan_held_loop_ms'], spec='{:.0f}')} ms; without autoflush "
                f"{describe(act['scan_no_autoflush_held_loop_ms'], spec='{:.0f}')} ms), "
                "one server's report "
                f"{describe(act['report_ms'], spec='{:.0f}')} ms"
            )
        print(f"  who held the hub's loop (callbacks >= {STALL * 1000:.0f} ms):")
        for row in r["stalls"][:8]:
            print(
                f"    {row['total_s']:>6.2f} s in {row['count']:>3} x (max {row['max_ms']} ms) "
                f"{row['owner']}: {row['where'].split('site-packages/')[-1]}"
            )
    path = write_results("pool", {"args": vars(args), "results": results})
    if args.plot:
        plot(results, args.plot)
        print(f"(again from the results: benchmarks/pool.py --plot-from {path} --plot PNG)")


if __name__ == "__main__":
    main()
