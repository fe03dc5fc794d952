"""A home of very many small files beside another student's start, on the real engine.

    sudo ./scripts/test.sh --co -q >/dev/null   # once: engine, proxy, image, venv
    sudo .venv/bin/python benchmarks/many_files.py [--files 500000] [--repeat 5]

Directory homes; the hub measures every running server's home every second
(``usage_interval = 1``). Student "hoarder" has ``--files`` empty files in their
home. Student "other" is started cold ``--repeat`` times with the hoarder's server
stopped, then ``--repeat`` times with it running (its home measured the whole
time); prints the medians and their ratio, and how long one measure of the
hoarder's home takes (``usage_max_entries`` caps it). Writes
benchmarks/results/many-files-<time>.json. Not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

from harness import (
    IMAGE,
    PREFIX,
    ensure_user,
    hub_config,
    running_hub,
    spawn_and_wait,
    stop_all,
    unmount_below,
    write_results,
)

from jhub_kit.provision.base import dir_size


def config(base: str):
    c = hub_config()
    c.JupyterHub.spawner_class = "jhub_kit.QuotaDockerSpawner"
    s = c.QuotaDockerSpawner
    s.image, s.network_name, s.prefix, s.pull_policy = IMAGE, "host", PREFIX, "never"
    s.mem_limit, s.home_provisioner, s.usage_interval = "300M", "directory", 1
    c.HomeProvisioner.base_dir = base
    return c


def fill(path: str, n: int) -> None:
    per_dir = 10_000
    for d in range(0, n, per_dir):
        sub = os.path.join(path, f"many-{d // per_dir:03d}")
        os.makedirs(sub, exist_ok=True)
        for i in range(min(per_dir, n - d)):
            os.close(os.open(os.path.join(sub, f"f{i}"), os.O_CREAT | os.O_WRONLY, 0o644))


async def main(files: int, repeat: int) -> None:
    base = tempfile.mkdtemp(prefix="jhub-kit-many-")
    out: dict = {"files": files, "repeat": repeat}
    async with running_hub(config(base)) as app:
        for n in ("hoarder", "other"):
            ensure_user(app, n)
        assert await spawn_and_wait(app, "hoarder") is not None
        home = next(
            os.path.join(base, d)
            for d in os.listdir(base)
            if d.startswith("hoarder") and os.path.isdir(os.path.join(base, d))
        )
        t0 = time.monotonic()
        await asyncio.to_thread(fill, home, files)
        out["fill_s"] = time.monotonic() - t0
        cap = app.users["hoarder"].spawner.config.DirectoryProvisioner.get(
            "usage_max_entries", 200_000
        )
        t0 = time.monotonic()
        used, complete = await asyncio.to_thread(dir_size, home, cap)
        out["measured_bytes"] = used
        out["one_measure_s"], out["measure_complete"] = time.monotonic() - t0, complete
        await stop_all(app, ["hoarder"])
        times: dict[str, list[float]] = {"quiet": [], "beside": []}
        for phase in ("quiet", "beside"):
            if phase == "beside":
                assert await spawn_and_wait(app, "hoarder") is not None
                await asyncio.sleep(3)  # its home is being measured
            for _ in range(repeat):
                t = await spawn_and_wait(app, "other")
                assert t is not None, "other's start failed"
                times[phase].append(t)
                await stop_all(app, ["other"])
            await stop_all(app, ["hoarder", "other"])
        out["start_s"] = {k: statistics.median(v) for k, v in times.items()}
        out["samples"] = times
        out["ratio"] = out["start_s"]["beside"] / out["start_s"]["quiet"]
    unmount_below(base)
    print(
        f"{files} files made in {out['fill_s']:.0f} s; one measure of that home "
        f"{out['one_measure_s']:.2f} s ({'all' if complete else 'capped at ' + str(cap)})"
    )
    print(
        f"other's cold start, median of {repeat}: quiet {out['start_s']['quiet']:.2f} s, "
        f"beside the hoarder {out['start_s']['beside']:.2f} s: ratio {out['ratio']:.2f}"
    )
    write_results("many-files", out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (homes are made for uid 1000)")
    asyncio.run(main(args.files, args.repeat))
