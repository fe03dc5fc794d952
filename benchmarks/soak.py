"""A class day under faults (soak test), on the real engine. Run on demand, as root:

    sudo ./scripts/test.sh --co -q >/dev/null   # once: engine, proxy, image, venv
    sudo .venv/bin/python benchmarks/soak.py [--students 60] [--minutes 30]

Students log in (spawn) and out at random with the idle culler on; while their
server runs they save files through the Jupyter contents API (sha256 of every
save is kept), some allocate past their memory limit, some fill their disk. The
hub is restarted once (at 40 % of the run) and the Docker engine once (at 70 %).

At the end every student's server is started once more and every file they
saved is read back and compared; then everything is stopped and leaks are
counted: containers, loop devices, mounts and state records of homes, proxy and
culler processes. Prints the counts and, per sixth of the run, the hub API's
latency and the process's memory; writes benchmarks/results/soak-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from harness import (
    IMAGE,
    PREFIX,
    RESULTS,
    ensure_user,
    in_client_thread,
    running_hub,
    sample_latency,
    stat,
    unmount_below,
)
from jupyterhub.tests.utils import api_request, auth_header, public_url
from jupyterhub.utils import url_path_join
from traitlets.config.loader import PyFileConfigLoader

from jhub_kit.network import firewall

NET = f"{PREFIX}-soak"

CONFIG = """\
import jhub_kit
c = get_config()
c.JhubKit.authenticator = "dummy"
c.JhubKit.data_dir = {data!r}
c.JhubKit.userlist = {userlist!r}
c.JhubKit.image = {image!r}
c.JhubKit.network_name = {net!r}
c.JhubKit.idle_timeout = {idle}
jhub_kit.configure(c)
c.QuotaDockerSpawner.mem_limit = "300M"
c.QuotaDockerSpawner.home_provisioner = "loopfile"
c.QuotaDockerSpawner.disk_limit = "60M"
c.QuotaDockerSpawner.prefix = {prefix!r}
c.QuotaDockerSpawner.pull_policy = "never"
c.QuotaDockerSpawner.poll_interval = 5
c.HomeProvisioner.base_dir = {homes!r}
c.JupyterHub.last_activity_interval = 10
c.JupyterHub.cleanup_servers = False
c.Authenticator.admin_users = {{"admin"}}
"""


class Day:
    def __init__(self, args, tmp: Path, client):
        self.args, self.tmp, self.client = args, tmp, client
        self.saved: dict[str, dict[str, str]] = {}  # user -> path -> sha256
        self.events: dict[str, int] = {}
        self.up = asyncio.Event()
        self.app = None
        self.latency: list[tuple[float, float]] = []  # (t, ms)
        self.rss: list[tuple[float, float]] = []  # (t, MiB)
        self.failures: dict[str, int] = {}  # "status: the server's message" -> count
        self.spawn_failures: dict[str, int] = {}  # "the start's exception" -> count
        self.marks: dict[str, float] = {}  # hub/engine restart -> t
        self.t0 = time.monotonic()

    def count(self, what: str) -> None:
        self.events[what] = self.events.get(what, 0) + 1

    async def spawn(self, name: str) -> bool:
        app = self.app
        url = url_path_join(public_url(app), "hub/api/users", name, "server")
        headers = {**auth_header(app.db, "admin"), "Sec-Fetch-Mode": "cors"}
        r = await in_client_thread(requests.post, url, headers=headers, timeout=600)
        if r.status_code not in (201, 202, 400):  # 400: already running or pending
            self.count(f"spawn refused {r.status_code}")
            return False
        user = app.users[name]
        fut = user.spawner._spawn_future  # JupyterHub clears it when done: keep it
        deadline = time.monotonic() + 600
        while user.spawner.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        ok = user.running
        self.count("spawned" if ok else "spawn failed")
        if ok:  # which path the start took: the warm pool's or the cold one
            self.count("spawned from the pool" if user.spawner.pool_member else "spawned cold")
        if not ok:
            why = "not running, no error recorded"
            if fut is not None and fut.done() and not fut.cancelled() and fut.exception():
                why = f"{type(fut.exception()).__name__}: {fut.exception()}"
            key = " ".join(why.split())[:200]
            self.spawn_failures[key] = self.spawn_failures.get(key, 0) + 1
        return ok

    async def contents(self, name: str, method: str, path: str, body=None):
        user = self.app.users[name]
        token = user.new_api_token()
        url = url_path_join(public_url(self.app, user), "api/contents", path)
        return await in_client_thread(
            requests.request,
            method,
            url,
            headers={"Authorization": f"token {token}"},
            json=body,
            timeout=60,
        )

    async def save_file(self, name: str) -> None:
        data = os.urandom(random.randint(1, 200) * 1024)
        path = f"work-{len(self.saved.get(name, {}))}.bin"
        body = {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}
        r = await self.contents(name, "PUT", path, body)
        if r.status_code in (200, 201):
            self.saved.setdefault(name, {})[path] = hashlib.sha256(data).hexdigest()
            self.count("files saved")
        else:
            self.count(f"save failed {r.status_code}")
            try:
                why = str(r.json().get("message", ""))
            except ValueError:
                why = r.text
            key = f"{r.status_code}: {' '.join(why.split())[:100]}"
            self.failures[key] = self.failures.get(key, 0) + 1

    async def exec_in(self, name: str, script: str) -> None:
        try:
            c = self.client.containers.get(f"{PREFIX}-{name}")
            await asyncio.to_thread(c.exec_run, ["sh", "-c", script])
        except Exception:
            self.count("exec failed (server gone)")

    async def student(self, name: str, end: float) -> None:
        rng = random.Random(name)
        while time.monotonic() < end:
            await self.up.wait()
            try:
                user = self.app.users[name]
                if not user.running and not user.spawner.pending:
                    await self.spawn(name)
                    continue
                roll = rng.random()
                if user.spawner.pending:
                    pass
                elif roll < 0.55:
                    await self.save_file(name)
                elif roll < 0.62:
                    self.count("memory hog")
                    await self.exec_in(name, "python3 -c 'b = bytearray(600 * 1024 * 1024)'")
                elif roll < 0.69:
                    self.count("disk filler")
                    await self.exec_in(
                        name, "dd if=/dev/zero of=~/fill bs=1M count=100 2>/dev/null; rm -f ~/fill"
                    )
                elif roll < 0.80:
                    self.count("logout")
                    await api_request(self.app, "users", name, "server", method="delete")
                # else: idle (the culler may stop the server)
            except Exception as e:  # the hub restarting under us: try again
                self.count(f"error {type(e).__name__}")
            await asyncio.sleep(rng.uniform(3, 15))

    async def sampler(self, end: float) -> None:
        while time.monotonic() < end:
            await self.up.wait()
            ms: list[float] = []
            stop = asyncio.Event()
            task = asyncio.create_task(sample_latency(self.app, stop, ms, every=1.0))
            await asyncio.sleep(10)
            stop.set()
            with contextlib.suppress(Exception):
                await task
            now = time.monotonic() - self.t0
            self.latency += [(now, x) for x in ms]
            self.rss.append((now, _rss_mib()))


async def run_day(args, tmp: Path, client) -> dict:
    from kit_testing import restart_dockerd

    data, homes = tmp / "data", tmp / "homes"
    names = [f"student{i:02d}" for i in range(args.students)]
    userlist = tmp / "userlist"
    userlist.write_text("admin admin\n" + "".join(f"{n}\n" for n in names))
    cfg = tmp / "jupyterhub_config.py"
    text = CONFIG.format(
        data=str(data),
        userlist=str(userlist),
        image=IMAGE,
        net=NET,
        idle=args.idle,
        prefix=PREFIX,
        homes=str(homes),
    )
    if args.pool:  # a warm pool beside the cold path: starts take either
        text += f"c.QuotaDockerSpawner.pool_size = {args.pool}\n"
        text += f"c.QuotaDockerSpawner.pool_dir = {str(tmp / 'pool')!r}\n"
    cfg.write_text(text)
    os.environ["JUPYTERHUB_TEST_DB_URL"] = f"sqlite:///{data}/jupyterhub.sqlite"
    day = Day(args, tmp, client)
    end = day.t0 + args.minutes * 60
    restarts = {"hub": day.t0 + 0.4 * args.minutes * 60, "engine": day.t0 + 0.7 * args.minutes * 60}

    # one hub port for both hubs, as a real hub keeps its port across a restart
    # (MockHub picks a new one: servers from before would fail every token check)
    from jupyterhub.utils import random_port

    hub_port = random_port()

    def config():
        c = PyFileConfigLoader(cfg.name, str(tmp)).load_config()
        c.JupyterHub.hub_port = hub_port
        return c

    async with running_hub(config()) as app:
        day.app = app
        for n in names:
            ensure_user(app, n)
        day.up.set()
        tasks = [asyncio.create_task(day.student(n, end)) for n in names]
        tasks.append(asyncio.create_task(day.sampler(end)))
        await asyncio.sleep(max(0, restarts["hub"] - time.monotonic()))
        day.up.clear()
    print("[soak] hub restarted", file=sys.stderr)
    day.marks["hub restart"] = time.monotonic() - day.t0
    async with running_hub(config(), restart=True) as app:
        day.app = app
        day.up.set()
        await asyncio.sleep(max(0, restarts["engine"] - time.monotonic()))
        print("[soak] engine restarted", file=sys.stderr)
        day.marks["engine restart"] = time.monotonic() - day.t0
        await asyncio.to_thread(restart_dockerd, client)
        day.count("engine restarts")
        await asyncio.gather(*tasks, return_exceptions=True)

        # every student's files, read back
        # (the idle culler stays on: a server culled while being read is started again;
        # only a 404 from a running server counts as missing)
        checked = mismatched = missing = unreadable = 0
        not_found: list[str] = []
        for n in names:
            if not day.saved.get(n):
                continue
            for path, digest in day.saved[n].items():
                r = None
                for _ in range(3):
                    if not app.users[n].running:
                        await day.spawn(n)
                    r = await day.contents(n, "GET", path + "?content=1&format=base64&type=file")
                    if r.status_code in (200, 404) and app.users[n].running:
                        break
                if r is None or r.status_code not in (200, 404):
                    unreadable += 1
                    not_found.append(f"{n}/{path}: {getattr(r, 'status_code', None)}")
                    continue
                if r.status_code == 404:
                    missing += 1
                    not_found.append(f"{n}/{path}: 404")
                    continue
                got = hashlib.sha256(base64.b64decode(r.json()["content"])).hexdigest()
                checked += 1
                mismatched += got != digest
        for n in names:
            if app.users[n].running or app.users[n].spawner.pending:
                await api_request(app, "users", n, "server", method="delete")
        for n in names:
            while app.users[n].running or app.users[n].spawner.pending:
                await asyncio.sleep(0.5)
    state = json.loads((homes / ".jhub-kit-state.json").read_text())["users"]
    images = sorted(p.stem for p in (homes / ".images").glob("*.img"))
    losetup = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    loops_per_image = {i: losetup.count(f"/.images/{i}.img") for i in images}
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(homes))
    ]
    leaks = {
        "containers left": len(client.containers.list(all=True, filters={"name": PREFIX})),
        "images without a state record": len(set(images) - {r["name"] for r in state.values()}),
        "state records without an image": len({r["name"] for r in state.values()} - set(images)),
        "homes with more than one loop device": sum(v > 1 for v in loops_per_image.values()),
        "mounts of homes with no record": len(
            [m for m in mounts if Path(m).name not in {r["name"] for r in state.values()}]
        ),
        "proxy processes left": _count_procs("configurable-http-proxy"),
        "culler processes left": _count_procs("jupyterhub_idle_culler"),
    }
    return {
        "files": {
            "checked": checked,
            "mismatched": mismatched,
            "missing": missing,
            "unreadable (server not up after 3 starts)": unreadable,
            "not found": not_found,
        },
        "leaks": leaks,
        "events": day.events,
        "save failures": day.failures,
        "spawn failures": day.spawn_failures,
        "marks": day.marks,
        "latency": day.latency,
        "rss": day.rss,
    }


def _rss_mib() -> float:
    """Resident memory now (VmRSS) of this process: the hub, the proxy client and
    the simulated students; it can fall again, unlike ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _count_procs(word: str) -> int:
    n = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if word in (p / "cmdline").read_bytes().decode(errors="replace"):
                    n += 1
            except OSError:
                pass
    return n


def report(result: dict, minutes: float) -> dict:
    window = minutes * 60 / 6
    rows = []
    for i in range(6):
        lo, hi = i * window, (i + 1) * window
        ms = [x for t, x in result["latency"] if lo <= t < hi]
        rss = [m for t, m in result["rss"] if lo <= t < hi]
        rows.append(
            {
                "from_min": lo / 60,
                "to_min": hi / 60,
                "api_ms": stat(ms),
                "rss_mib_last": rss[-1] if rss else None,
                "rss_mib_max": max(rss, default=None),
            }
        )
    print("\nminutes     hub API p50 / p95 / p99 / max ms (n)   RSS MiB at end / max")
    for r in rows:
        s = r["api_ms"]
        line = "-"
        if s.get("n"):
            tail = " / ".join(f"{s[k]:.0f}" if k in s else "-" for k in ("p95", "p99"))
            line = f"{s['median']:.0f} / {tail} / {s['max']:.0f} ({s['n']})"
        mem = "-"
        if r["rss_mib_last"] is not None:
            mem = f"{r['rss_mib_last']:.0f} / {r['rss_mib_max']:.0f}"
        print(f"  {r['from_min']:4.1f}-{r['to_min']:4.1f}   {line:<38} {mem}")
    print("\nfiles:", result["files"])
    print("leaks:", result["leaks"])
    print("events:", dict(sorted(result["events"].items())))
    print("save failures:", json.dumps(result["save failures"], indent=1))
    print("spawn failures:", json.dumps(result["spawn failures"], indent=1))
    print("restarts at (s):", result["marks"])
    return {"windows": rows}


def plot(result: dict, path: Path) -> bool:
    """Hub API latency and memory over the day, restarts marked; needs matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return False
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(8, 5), dpi=100)
    ax1.scatter([t / 60 for t, _ in result["latency"]], [x for _, x in result["latency"]], s=2)
    ax1.set_yscale("log")
    ax1.set_ylabel("hub API GET, ms")
    ax2.plot([t / 60 for t, _ in result["rss"]], [m for _, m in result["rss"]])
    ax2.set_ylabel("RSS, MiB")
    ax2.set_xlabel("minutes into the day")
    for what, t in result["marks"].items():
        for ax in (ax1, ax2):
            ax.axvline(t / 60, color="red", linestyle="--", linewidth=1)
        ax1.annotate(what, (t / 60, ax1.get_ylim()[1]), rotation=90, va="top", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=60)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--idle", type=int, default=120, help="idle culler timeout, s")
    ap.add_argument("--pool", type=int, default=0, help="warm pool size (0: no pool)")
    ap.add_argument("--plot", type=Path, help="write a PNG of latency and memory here")
    args = ap.parse_args()
    import docker

    client = docker.from_env(timeout=120)
    for old in client.networks.list(names=[NET]):
        old.remove()
    client.networks.create(NET, driver="bridge")
    with tempfile.TemporaryDirectory(prefix="jhub-kit-soak-") as tmp:
        os.chmod(tmp, 0o711)
        os.chdir(tmp)
        try:
            result = asyncio.run(run_day(args, Path(tmp), client))
        finally:
            for c in client.containers.list(all=True, filters={"name": PREFIX}):
                c.remove(force=True)
            unmount_below(tmp)
            for net in client.networks.list(names=[NET]):
                net.reload()
                iso = firewall.Isolation(firewall.bridge_of(net.attrs), ())
                asyncio.run(firewall.remove(iso))
                net.remove()
    summary = report(result, args.minutes)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"soak-{time.strftime('%Y%m%dT%H%M%S')}.json"
    args_out = vars(args) | {"plot": str(args.plot)}
    path.write_text(json.dumps({"args": args_out, **result, **summary}))
    print(f"wrote {path}")
    if args.plot and plot(result, args.plot):
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
