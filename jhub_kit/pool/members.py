"""A warm pool of pre-started servers for QuotaDockerSpawner.

Each member is a container of the server image running
:mod:`jhub_kit.pool.launcher`, which has imported the single-user server and
waits for an identity. A member holds nothing of any user: no token, no user
name, an empty home mount point, and the default quota's limits. When a
student spawns, the spawner takes a ready member (:meth:`WarmPool.take`), sets
that student's limits on the running container (``docker update``), mounts
their home on the host under the member's directory (the member's home is a
bind mount with ``rslave`` propagation, so the mount appears inside), and only
then writes the identity (:meth:`WarmPool.hand_over`) into the member's own
channel directory, which root on the host alone can write and no other
container sees. A member is given once; a stopped server's container is
removed and never returns to the pool.

Members are kept at the pool's target (``pool_size``, raised by the class times
of ``pool_schedule`` and by ``jhub-kit pool fill``: :mod:`jhub_kit.pool.schedule`)
by a loop that also replaces members that died or are older than
``pool_max_age`` and removes idle members above the target after class; each
new member is started through the hub's start queue, so filling the pool never
delays a student's start. The loop writes ``status.json`` in ``pool_dir`` for
``jhub-kit pool status``. A new hub removes the unassigned members of the one
before it.

Pure helpers (:func:`update_body`, :func:`member_name`, :func:`stale`) are
apart from the I/O and tested on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..provision import commands
from ..provision.mounts import mounted_at
from ..quota import docker_limits
from ..quota.policy import Quota
from . import schedule

LABEL = "io.jhub-kit.pool"
ASSIGNED = "assigned"  # marker file in a member's directory once it is given out
LAUNCHER = str(Path(__file__).with_name("launcher.py"))
READY_LINE = "[jhub-kit pool] ready"
REFILL_QUIET = 10.0
"""Seconds without a member given out before the pool refills: a new member's
imports cost seconds of CPU, which during a rush belong to the students."""


class PoolError(RuntimeError):
    """A member could not be made ready or assigned; the start goes the cold way."""


# -- pure ----------------------------------------------------------------------


def member_name(prefix: str) -> str:
    """A new member's container name: nothing of any user in it."""
    return f"{prefix}-pool-{secrets.token_hex(5)}"


def update_body(quota: Quota, cpu_period: int = docker_limits.DEFAULT_CPU_PERIOD) -> dict[str, int]:
    """The Engine API's ``POST /containers/{id}/update`` body that gives a running
    member exactly ``quota``'s limits (unset memory-swap, CPU and PIDs limits made
    unlimited). A quota with no memory limit cannot be set on a running container
    (Docker cannot lift one): :class:`PoolError`."""
    if quota.mem_limit is None:
        raise PoolError("a quota without a memory limit cannot be set on a running container")
    hc = docker_limits.host_config_limits(quota, cpu_period=cpu_period)
    body = {
        "Memory": hc["mem_limit"],
        "MemorySwap": hc["memswap_limit"],
        "CpuQuota": hc.get("cpu_quota", -1),
        "PidsLimit": hc.get("pids_limit", -1),
    }
    for field_name, keyword in docker_limits.INSPECT_FIELDS.items():
        if keyword in ("cpu_period", "mem_reservation", "cpu_shares") and keyword in hc:
            body[field_name] = hc[keyword]
    return body


def engine_update(client: Any, container_id: str, body: dict[str, int]) -> None:
    """Change a running container's limits through the Engine API (blocking: run
    it in a thread). docker-py's ``update_container`` has no PIDs limit and cannot
    lift a CPU quota, so the body goes to the same endpoint as it sends to."""
    res = client._post_json(client._url("/containers/{0}/update", container_id), data=body)
    client._raise_for_status(res)


def stale(created: float, now: float, max_age: float) -> bool:
    return max_age > 0 and now - created > max_age


# -- the pool ------------------------------------------------------------------


@dataclass
class Member:
    name: str
    id: str
    dir: Path
    created: float = field(default_factory=time.monotonic)

    @property
    def home(self) -> Path:
        return self.dir / "home"

    @property
    def channel(self) -> Path:
        return self.dir / "channel"


Creator = Callable[[str, Path], Awaitable[str]]
"""Makes and starts one member container: (name, its directory) -> container id."""


class WarmPool:
    """The pool of one hub (one per spawner class and configuration)."""

    def __init__(
        self,
        *,
        prefix: str,
        base: str,
        size: int,
        max_age: float,
        client: Any,
        log: logging.Logger | Any,
        interval: float = 2.0,
        windows: list[schedule.Window] | None = None,
    ):
        self.prefix = prefix
        self.base = Path(base)
        self.size = size
        self.windows = windows or []
        self.max_age = max_age
        self.client = client
        self.log = log
        self.interval = interval
        self.config: Any = None  # the hub configuration it serves (kept alive)
        self.ready: list[Member] = []
        self.starting = 0
        self.assigned_total = 0
        self.want, self.why = size, "pool_size"
        self.last_taken = -REFILL_QUIET
        self._adding: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._creator: Creator | None = None
        self._slot: Callable[[], Any] | None = None

    # -- life ------------------------------------------------------------------

    def ensure_running(self, creator: Creator, slot: Callable[[], Any]) -> None:
        """Start keeping the pool filled (once); ``slot()`` is an async context
        manager holding one place of the hub's start queue."""
        self._creator, self._slot = creator, slot
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        """Stop keeping the pool filled (members stay: a new hub removes them)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for t in self._adding:
            t.cancel()

    def target(self, now: dt.datetime | None = None) -> tuple[int, str]:
        """How many members to keep now, and why (see :mod:`jhub_kit.pool.schedule`)."""
        request = schedule.read_request(self.base)
        return schedule.target(now or dt.datetime.now(), self.size, self.windows, request)

    async def _run(self) -> None:
        try:
            await self._prepare()
            await self._remove_leftovers()
        except Exception:
            self.log.exception("Warm pool not started")
            return
        while True:
            try:
                await self.maintain()
            except Exception:
                self.log.exception("Warm pool maintenance failed; retrying")
            await asyncio.sleep(self.interval)

    async def _prepare(self) -> None:
        """The pool's directory as a shared mount, so a home mounted under a
        member's directory appears inside that member (rslave)."""
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o711)
        if mounted_at(self.base) is None:
            await commands.run("mount", "--bind", str(self.base), str(self.base))
        await commands.run("mount", "--make-rshared", str(self.base))

    async def _docker(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, method), *args, **kwargs)

    async def _remove_leftovers(self) -> None:
        """Unassigned members of an earlier hub: removed (nothing stale is handed out)."""
        old = await self._docker(
            "containers", all=True, filters={"label": f"{LABEL}={self.prefix}"}
        )
        for c in old:
            name = c["Names"][0].lstrip("/")
            if not (self.base / name / ASSIGNED).exists():
                self.log.info("Warm pool: removing %s, left unassigned by an earlier hub", name)
                await self.discard(Member(name, c["Id"], self.base / name))

    async def maintain(self) -> None:
        """Drop members that died or aged; start new ones up to the target, remove
        idle ones above it (oldest first); write the status file."""
        self.want, self.why = self.target()
        now = time.monotonic()
        running = await self._running_ids()
        for m in list(self.ready):
            alive = running is None or m.id in running  # None: the engine did not answer
            if not alive or stale(m.created, now, self.max_age):
                self.ready.remove(m)
                self.log.info(
                    "Warm pool: replacing %s (%s)", m.name, "too old" if alive else "it died"
                )
                await self.discard(m)
        missing = self.want - len(self.ready) - self.starting
        if now - self.last_taken < REFILL_QUIET:
            missing = 0  # students are being given members: refill after the rush
        for _ in range(max(missing, 0)):  # not awaited: the loop keeps watching
            task = asyncio.get_running_loop().create_task(self._add())
            self._adding.add(task)
            task.add_done_callback(self._adding.discard)
        while len(self.ready) > self.want:
            m = self.ready.pop(0)
            self.log.info("Warm pool: removing %s, above the target (%s)", m.name, self.why)
            await self.discard(m)
        self._write_status()

    async def _running_ids(self) -> set[str] | None:
        """The running members' container ids, in one call to the engine."""
        try:
            found = await self._docker(
                "containers", filters={"label": f"{LABEL}={self.prefix}", "status": "running"}
            )
        except Exception as e:
            self.log.warning("Warm pool: cannot list members: %s", e)
            return None
        return {c["Id"] for c in found}

    def _write_status(self) -> None:
        try:
            schedule.write_status(self.base, self.status())
        except OSError as e:
            self.log.warning("Warm pool: cannot write %s: %s", schedule.STATUS_FILE, e)

    async def _add(self) -> None:
        assert self._creator is not None and self._slot is not None
        self.starting += 1
        name = member_name(self.prefix)
        member = Member(name, "", self.base / name)
        try:
            async with self._slot():  # a place in the start queue: students first in line
                member.channel.mkdir(parents=True, mode=0o755)
                member.home.mkdir(mode=0o755)
                member.id = await self._creator(name, member.dir)
                await self._wait_ready(member)
            member.created = time.monotonic()
            self.ready.append(member)
            self.log.info("Warm pool: %s ready (%d ready)", name, len(self.ready))
        except Exception as e:
            self.log.warning("Warm pool: %s not started: %s", name, e)
            await self.discard(member)
        finally:
            self.starting -= 1

    async def _wait_ready(self, member: Member, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logs = (await self._docker("logs", member.id, tail=20)).decode(errors="replace")
            if READY_LINE in logs:
                return
            state = (await self._docker("inspect_container", member.id))["State"]
            if not state["Running"]:
                raise PoolError(f"the launcher exited: {logs[-500:]}")
            await asyncio.sleep(0.5)
        raise PoolError(f"the launcher was not ready within {timeout:g} s")

    async def discard(self, member: Member) -> None:
        if member.id or member.name:
            with contextlib.suppress(Exception):
                await self._docker("remove_container", member.id or member.name, force=True)
        await self.release(member.name)

    # -- assignment ------------------------------------------------------------

    def take(self) -> Member | None:
        """A ready member for one student, never to be given again; None if none."""
        now = time.monotonic()
        while self.ready:
            m = self.ready.pop(0)
            if stale(m.created, now, self.max_age):
                asyncio.get_running_loop().create_task(self.discard(m))
                continue
            (m.dir / ASSIGNED).write_text("")
            self.assigned_total += 1
            self.last_taken = now
            return m
        return None

    async def attach_home(self, member: Member, source: str) -> None:
        """The student's home (a host path) mounted at the member's home mount point."""
        await commands.run("mount", "--bind", source, str(member.home))

    def hand_over(self, member: Member, identity: dict[str, Any], uid: int, gid: int) -> None:
        """Write the identity where only this member reads it (atomically)."""
        tmp = member.dir / f".identity-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "w") as f:
            json.dump(identity, f)
        os.chown(tmp, uid, gid)
        os.replace(tmp, member.channel / "identity.json")

    def forget_identity(self, member_dir: Path) -> None:
        """The token leaves the channel once the server has read it and answers."""
        with contextlib.suppress(FileNotFoundError):
            (member_dir / "channel" / "identity.json").unlink()

    async def release(self, name: str) -> None:
        await self.release_dir(self.base, name, self.log)

    @staticmethod
    async def release_dir(base: Path, name: str, log: Any) -> None:
        """After a member's container is gone: unmount its home mount point and remove
        its directory. Never removes a file under the home: rmdir only."""
        d = base / name
        home = d / "home"
        if mounted_at(home) is not None:
            await commands.run("umount", "--lazy", str(home), check=False)
        if mounted_at(home) is not None:
            log.error("Warm pool: %s is still mounted; left in place", home)
            return
        for p in (d / "channel" / "identity.json", d / ASSIGNED):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        for sub in (home, d / "channel", d):
            with contextlib.suppress(OSError):
                sub.rmdir()

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "ready": len(self.ready),
            "starting": self.starting,
            "target": self.want,
            "why": self.why,
            "size": self.size,
            "schedule": [w.text for w in self.windows],
            "assigned": self.assigned_total,
            "members": [{"name": m.name, "age_s": round(now - m.created)} for m in self.ready],
            "updated": time.time(),
            "pid": os.getpid(),
        }
