"""Home provisioning benchmark: the kit against the same commands run bare, one run.

    sudo .venv/bin/python benchmarks/provision.py [--n 20] [--many 200]

1. a new 10 GiB loopfile home and a new btrfs home: median seconds per home for
   the kit (locking, checks, state) and for a bare shell script running the same
   commands (truncate, mkfs.ext4, mount, chown; btrfs subvolume create, qgroup
   limit), and the ratio;
2. ``--many`` loopfile homes one after another: all made, and the median time
   of the first and last 20 (does it slow down, do loop devices run out?);
3. the hub API's latency (p50/p99 of GET /hub/api/users/NAME) while ``--n``
   homes are provisioned at once inside the hub's event loop.
Writes benchmarks/results/provision-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time

import requests
from harness import (
    RESULTS,
    describe,
    hub_config,
    in_client_thread,
    running_hub,
    stat,
    unmount_below,
)
from jupyterhub.tests.utils import auth_header, public_url
from jupyterhub.utils import url_path_join

from jhub_kit.provision.btrfs import BtrfsProvisioner
from jhub_kit.provision.loopfile import LoopfileProvisioner
from jhub_kit.quota.policy import Quota

SIZE = 10 * 1024**3
WAVES = 5

# each home timed on its own (bash's $EPOCHREALTIME), like the kit's: one statistic, the median
BARE_LOOPFILE = """
set -e
for i in $(seq 1 "$N"); do
  t0=$EPOCHREALTIME
  truncate -s 10G "$D/img$i"
  mkfs.ext4 -q -F -m 0 "$D/img$i"
  mkdir "$D/m$i"
  mount -o loop,nosuid,nodev "$D/img$i" "$D/m$i"
  chown 1000:100 "$D/m$i"
  echo "$t0 $EPOCHREALTIME"
done
"""

BARE_BTRFS = """
set -e
for i in $(seq 1 "$N"); do
  t0=$EPOCHREALTIME
  btrfs subvolume create "$P/s$i" >/dev/null
  chown 1000:100 "$P/s$i"
  btrfs qgroup limit 10G "$P/s$i"
  echo "$t0 $EPOCHREALTIME"
done
"""


def bare(script: str, n: int, **env: str) -> list[float]:
    """Seconds per home of the bare commands, one sample per home."""
    r = subprocess.run(
        ["bash", "-c", script],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "N": str(n), **env},
    )
    return [float(b) - float(a) for a, b in (line.split() for line in r.stdout.splitlines())]


async def kit_times(prov, names) -> list[float]:
    out = []
    for name in names:
        t0 = time.perf_counter()
        await prov.provision(name, Quota(disk_limit=SIZE))
        out.append(time.perf_counter() - t0)
    return out


async def api_during(tmp: str, n: int) -> dict:
    async with running_hub(hub_config()) as app:
        prov = LoopfileProvisioner(base_dir=f"{tmp}/api-homes")
        url = url_path_join(public_url(app), "hub/api/users/admin")
        headers = auth_header(app.db, "admin")
        latencies: list[float] = []
        done = asyncio.Event()

        async def sample():
            s = requests.Session()
            while not done.is_set():
                t0 = time.perf_counter()
                await in_client_thread(s.get, url, headers=headers, timeout=30)
                latencies.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.005)

        sampler = asyncio.create_task(sample())
        await asyncio.sleep(0.5)
        baseline = len(latencies)
        t0 = time.perf_counter()
        for wave in range(WAVES):  # n homes at once, WAVES times, to sample enough
            await asyncio.gather(
                *(prov.provision(f"w{wave}u{i}", Quota(disk_limit=SIZE)) for i in range(n))
            )
        wall = (time.perf_counter() - t0) / WAVES
        done.set()
        await sampler
        during = latencies[baseline:]
        return {
            "homes": n,
            "waves": WAVES,
            "wall_s": wall,
            "api_ms": stat(during),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--many", type=int, default=200)
    args = ap.parse_args()
    result: dict = {"n": args.n, "many": args.many, "cores": len(os.sched_getaffinity(0))}
    with tempfile.TemporaryDirectory(prefix="jhub-kit-provbench-") as tmp:
        os.chmod(tmp, 0o711)
        os.chdir(tmp)
        try:
            os.mkdir(f"{tmp}/bare")
            bare_loop = statistics.median(bare(BARE_LOOPFILE, args.n, D=f"{tmp}/bare"))
            kit_loop = statistics.median(
                asyncio.run(
                    kit_times(
                        LoopfileProvisioner(base_dir=f"{tmp}/kit"), [f"s{i}" for i in range(args.n)]
                    )
                )
            )
            bt = BtrfsProvisioner(base_dir=f"{tmp}/btrfs", pool_size="200G")
            asyncio.run(bt.provision("warmup", Quota(disk_limit=SIZE)))  # pool made once
            bare_btrfs = statistics.median(bare(BARE_BTRFS, args.n, P=f"{tmp}/btrfs/.pool"))
            kit_btrfs = statistics.median(
                asyncio.run(kit_times(bt, [f"b{i}" for i in range(args.n)]))
            )
            unmount_below(tmp)
            many = asyncio.run(
                kit_times(
                    LoopfileProvisioner(base_dir=f"{tmp}/many"), [f"m{i}" for i in range(args.many)]
                )
            )
            result["many"] = {
                "made": len(many),
                "first20_median_s": statistics.median(many[:20]),
                "last20_median_s": statistics.median(many[-20:]),
            }
            unmount_below(tmp)
            result["api"] = asyncio.run(api_during(tmp, args.n))
        finally:
            unmount_below(tmp)
    result.update(
        bare_loopfile_s=bare_loop,
        kit_loopfile_s=kit_loop,
        bare_btrfs_s=bare_btrfs,
        kit_btrfs_s=kit_btrfs,
    )
    print(
        f"\n{result['cores']} cores; per new 10 GiB home, median of {args.n} each (bare and kit):"
    )
    print(
        f"  loopfile  bare {bare_loop:.3f} s  kit {kit_loop:.3f} s  "
        f"ratio {kit_loop / bare_loop:.2f}"
    )
    print(
        f"  btrfs     bare {bare_btrfs:.3f} s  kit {kit_btrfs:.3f} s  "
        f"ratio {kit_btrfs / bare_btrfs:.2f}"
    )
    m = result["many"]
    print(
        f"{m['made']} loopfile homes in a row: first 20 median {m['first20_median_s']:.3f} s, "
        f"last 20 median {m['last20_median_s']:.3f} s"
    )
    a = result["api"]
    print(
        f"hub API while {a['homes']} homes are made at once ({a['wall_s']:.1f} s a wave): "
        f"{describe(a['api_ms'], ' ms')}"
    )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"provision-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
