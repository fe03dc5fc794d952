"""The warm pool's members: pre-started servers for QuotaDockerSpawner.

Each member is a container made from the configuration's description of a
server (:func:`jhub_kit.spec.member_kwargs`: a description made from the
configuration alone, never from a user's spawner) running
:mod:`jhub_kit.pool.launcher`, which has imported the single-user server and
waits for an identity. A member holds nothing of any user: no token, no user
name, empty mount slots, the default limits. Its key (:func:`jhub_kit.spec.pool_key`)
names what it can run; members of several keys live in one pool.

A start whose description fits a ready member's key takes it
(:meth:`WarmPool.take`), sets its own limits on the running container
(:func:`engine_update`), mounts its home and volumes on the host into the
member's slots, which appear inside through ``rslave`` propagation
(:meth:`WarmPool.attach`), and only then writes the identity
(:meth:`WarmPool.hand_over`) into the member's own channel directory, which
root on the host alone can write and no other container sees. A member is
given once; a stopped server's container is removed, never returned.

Members are kept at the pool's target (``pool_size``, raised by the class times
of ``pool_schedule`` and by ``jhub-kit pool fill``, capped by
``pool_fill_max``: :mod:`jhub_kit.pool.schedule`) by a loop that also replaces
members that died or are older than ``pool_max_age``, removes idle members above
the target after class, and backs off from a member that keeps failing. A
new member starts only when no student's start holds or waits for a place in
the start queue. The loop writes ``status.json`` for ``jhub-kit pool status``.
When the hub stops, the unassigned members are removed with it; a new hub
removes any an earlier one left.

Pure helpers (:func:`update_body`, :func:`member_name`, :func:`stale`,
:func:`backoff`) are apart from the I/O and tested on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import files, offloop
from ..provision import commands, paths
from ..provision.mounts import mount_table, mounted_at
from ..quota import docker_limits
from ..quota.policy import Quota
from ..spec import POOL_LABEL
from . import schedule

LABEL = POOL_LABEL
ASSIGNED = "assigned"  # marker file in a member's directory once it is given out
LAUNCHER = str(Path(__file__).with_name("launcher.py"))
LAUNCHER_COPY = "launcher-{digest}.py"
"""The launcher's copy in the pool's directory, which members bind: the pool's
directory is on the engine's host by necessity (the slots), the installed kit's
files may not be (a hub in a container). Named by its content
(:func:`launcher_copy`), so hubs of two kit versions sharing a ``pool_dir`` never
run each other's."""
READY_LINE = "[jhub-kit pool] ready"
REFILL_QUIET = 10.0
"""Seconds without a member given out before the pool refills: a new member's
imports cost seconds of CPU, which during a rush belong to the students."""
WAKE = "wake"  # a FIFO in the channel: the launcher sleeps on it until the identity comes
MAX_BACKOFF = 300.0
STAGING = ".staging"  # a private mount under the pool's directory: read-only binds made here


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


def wake(fifo: Path) -> None:
    """Wake a launcher sleeping on ``fifo`` (it then reads its identity). A launcher
    not asleep there (still importing, or between two looks) finds the identity
    file by itself within a second: nothing waits on it here."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader now; ENOENT: a member of an older hub
        return
    try:
        os.write(fd, b"\n")
    except OSError:
        pass
    finally:
        os.close(fd)


@functools.cache
def _launcher() -> tuple[str, str]:
    """(Blocking, once.) The launcher's text and the first 12 hex digits of its
    SHA-256."""
    text = Path(LAUNCHER).read_text()
    return text, hashlib.sha256(text.encode()).hexdigest()[:12]


def launcher_copy(base: Path) -> Path:
    """(Blocking.) Where the launcher's copy is in the pool's directory ``base``
    (:data:`LAUNCHER_COPY`)."""
    return base / LAUNCHER_COPY.format(digest=_launcher()[1])


def copy_launcher(base: Path) -> Path:
    """(Blocking.) The launcher copied to :func:`launcher_copy` in the pool's
    directory ``base``, whole (a reader sees none or all of it); returns its path."""
    path = launcher_copy(base)
    files.atomic_write(path, _launcher()[0], 0o644)
    return path


def stale(created: float, now: float, max_age: float) -> bool:
    return max_age > 0 and now - created > max_age


def backoff(failures: int) -> float:
    """Seconds to wait before the next try after ``failures`` in a row (2, 4, 8... 300)."""
    return 0.0 if failures <= 0 else min(MAX_BACKOFF, 2.0**failures)


# -- the pool ------------------------------------------------------------------


@dataclass
class Member:
    name: str
    id: str
    dir: Path
    key: str = ""
    created: float = field(default_factory=time.monotonic)
    #: the kind it was made as: a profile's slug, "" for the configuration's
    label: str = ""

    @property
    def channel(self) -> Path:
        return self.dir / "channel"


@dataclass
class MemberKind:
    """What the pool fills with: one key, and how to make a member of it."""

    key: str
    #: :func:`jhub_kit.spec.fixed_part` of the description members are made from
    fixed: dict[str, Any]
    #: the slot directories (relative to a member's directory) a member has
    slots: Sequence[str]
    #: makes and starts one member: (name, its directory) -> container id
    create: Callable[[str, Path], Awaitable[str]]


@dataclass(frozen=True)
class Attachment:
    """One mount of a pooled start: host path ``source`` at ``path`` under the
    member's directory (``slot-0``, or ``slot-0/work`` inside a mounted home)."""

    source: str
    path: str
    read_only: bool = False


BackgroundSlot = Callable[[], Any]
"""An async context manager holding a place in the start queue that no student wants."""


class WarmPool:
    """The pool of one hub."""

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
        fill_max: int = 0,
    ):
        self.prefix = prefix
        self.base = Path(base)
        self.size = size
        self.windows = windows or []
        self.fill_max = fill_max
        self.max_age = max_age
        self.client = client
        self.log = log
        self.interval = interval
        self.ready: list[Member] = []
        self.assigned_total = 0
        #: each kind's target and why, by label, as the last maintenance found them
        self.wants: dict[str, tuple[int, str]] = {"": (size, "pool_size")}
        self.last_taken = -REFILL_QUIET
        self.failures = 0
        self.retry_at = 0.0
        #: what members are made as, by label: "" the configuration's, else a profile's slug
        self.kinds: dict[str, MemberKind] = {}
        #: each profile kind's own pool_size
        self.profile_sizes: dict[str, int] = {}
        #: members being started, by label
        self.starting_of: dict[str, int] = {}
        self.closed = False
        self._adding: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._slot: BackgroundSlot | None = None
        self.clock: Callable[[], float] = time.monotonic

    # -- life ------------------------------------------------------------------

    @property
    def starting(self) -> int:
        return sum(self.starting_of.values())

    @property
    def want(self) -> int:
        """The target of every kind together (the configuration's before the start)."""
        labels = set(self.kinds) or {""}
        return sum(n for label, (n, _) in self.wants.items() if label in labels)

    @property
    def why(self) -> str:
        """Why the configuration's kind has its target."""
        return self.wants[""][1]

    @property
    def kind(self) -> MemberKind | None:
        """The configuration's member kind (None before the pool starts, or if the
        configuration's servers cannot be pooled)."""
        return self.kinds.get("")

    @kind.setter
    def kind(self, kind: MemberKind | None) -> None:
        if kind is None:
            self.kinds.pop("", None)
        else:
            self.kinds[""] = kind

    def kind_for(self, key: str) -> MemberKind | None:
        """A kind whose members run servers of ``key``; None if the pool has none."""
        return next((k for k in self.kinds.values() if k.key == key), None)

    def start(
        self,
        kind: MemberKind | dict[str, MemberKind],
        slot: BackgroundSlot,
        profile_sizes: dict[str, int] | None = None,
    ) -> None:
        """Start keeping the pool filled with members of ``kind`` (once); a dict:
        several kinds by label ("" the configuration's, else a profile's slug,
        whose own pool_size is in ``profile_sizes``)."""
        if self.closed:
            return
        self.kinds = dict(kind) if isinstance(kind, dict) else {"": kind}
        self.profile_sizes = dict(profile_sizes or {})
        self._slot = slot
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def close(self) -> None:
        """Stop keeping the pool filled and remove the unassigned members (the hub
        stops); a member given out is a user's server: JupyterHub stops it or not."""
        self.closed = True
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        adding = list(self._adding)
        for t in adding:
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.gather(*adding, return_exceptions=True)
        await self._remove_ready()

    async def _remove_ready(self) -> None:
        members, self.ready = self.ready, []
        for m in members:
            await self.discard(m)
        if members:
            self.log.info("Warm pool: removed %d unassigned member(s) at shutdown", len(members))

    def target(self, now: dt.datetime | None = None) -> tuple[int, str]:
        """How many members of the configuration's kind to keep now, and why (see
        :mod:`jhub_kit.pool.schedule`)."""
        return self.targets(now)[""]

    def targets(self, now: dt.datetime | None = None) -> dict[str, tuple[int, str]]:
        """For each kind (and always ""): how many members to keep now, and why. A fill
        request is for the configuration's kind; a class time names its profile."""
        now = now or dt.datetime.now()
        request = schedule.read_request(self.base)
        out = {}
        for label in {"", *self.kinds}:
            base = self.size if not label else self.profile_sizes.get(label, 0)
            out[label] = schedule.target(
                now,
                base,
                self.windows,
                request if not label else None,
                cap=self.fill_max,
                profile=label,
            )
        return out

    def ready_of(self, label: str) -> list[Member]:
        return [m for m in self.ready if m.label == label]

    async def _run(self) -> None:
        try:
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
        except asyncio.CancelledError:
            # the hub is shutting down: JupyterHub cancels every task after its cleanup,
            # members being started among them (each removes its own, once: cancelling
            # them again here would cut that short); the ready ones go with it
            self.closed = True
            await self._remove_ready()
            raise

    async def _prepare(self) -> None:
        """The pool's directory as a shared mount, so a mount under a member's slot
        appears inside that member (rslave); a private staging area in it; the
        launcher's copy (:data:`LAUNCHER_COPY`)."""
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o711)
        await offloop.run_io(copy_launcher, self.base)
        if mounted_at(self.base) is None:
            await commands.run("mount", "--bind", str(self.base), str(self.base))
        await commands.run("mount", "--make-rshared", str(self.base))
        staging = self.base / STAGING
        staging.mkdir(mode=0o700, exist_ok=True)
        if mounted_at(staging) is None:
            await commands.run("mount", "--bind", str(staging), str(staging))
        await commands.run("mount", "--make-private", str(staging))

    async def _docker(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await offloop.run_engine(getattr(self.client, method), *args, **kwargs)

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
        """Drop members that died or aged; start new ones up to the target (backing
        off after failures), remove idle ones above it (oldest first); write the status."""
        self.wants = targets = self.targets()
        running = await self._running_ids()
        now = self.clock()
        # the ready list may change while this awaits (a start takes a member):
        # each member is taken off the list before anything is awaited for it
        for m in list(self.ready):
            alive = running is None or m.id in running  # None: the engine did not answer
            if alive and not stale(m.created, now, self.max_age):
                continue
            if m not in self.ready:
                continue  # given out meanwhile
            self.ready.remove(m)
            self.log.info("Warm pool: replacing %s (%s)", m.name, "too old" if alive else "it died")
            await self.discard(m)
        quiet = now - self.last_taken >= REFILL_QUIET and now >= self.retry_at
        for label in list(self.kinds):
            want, why = targets[label]
            missing = want - len(self.ready_of(label)) - self.starting_of.get(label, 0)
            if not quiet:
                missing = 0  # students are being given members, or the last one failed
            for _ in range(max(missing, 0)):  # not awaited: the loop keeps watching
                task = asyncio.get_running_loop().create_task(self._add(label))
                self._adding.add(task)
                task.add_done_callback(self._adding.discard)
            while len(self.ready_of(label)) > want:
                m = self.ready_of(label)[0]
                self.ready.remove(m)
                self.log.info("Warm pool: removing %s, above the target (%s)", m.name, why)
                await self.discard(m)
        await self._write_status()

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

    async def _write_status(self) -> None:
        status = self.status()
        try:
            await offloop.run_io(schedule.write_status, self.base, status)
        except OSError as e:
            self.log.warning("Warm pool: cannot write %s: %s", schedule.STATUS_FILE, e)

    async def _add(self, label: str = "") -> None:
        kind, slot = self.kinds.get(label), self._slot
        assert kind is not None and slot is not None
        self.starting_of[label] = self.starting_of.get(label, 0) + 1
        name = member_name(self.prefix)
        member = Member(name, "", self.base / name, kind.key, label=label)
        try:
            async with slot():  # only when no student wants a place in the start queue
                await offloop.run_io(_make_member_dir, member, kind.slots)
                member.id = await kind.create(name, member.dir)
                await self._wait_ready(member)
            member.created = self.clock()
            self.ready.append(member)
            self.failures = 0
            self.log.info("Warm pool: %s ready (%d ready)", name, len(self.ready))
        except asyncio.CancelledError:
            await self.discard(member)
            raise
        except Exception as e:
            self.failures += 1
            self.retry_at = self.clock() + backoff(self.failures)
            self.log.warning(
                "Warm pool: %s not started (%s); %d failure(s) in a row, next try in %g s",
                name,
                e,
                self.failures,
                backoff(self.failures),
            )
            await self.discard(member)
        finally:
            self.starting_of[label] -= 1

    async def _wait_ready(
        self, member: Member, timeout: float = 180, look: float = 0.1, inspect: float = 1.0
    ) -> None:
        """Until the launcher says it is ready: its log looked at every ``look``
        seconds (the place it holds is the fill's, and a late look leaves a core
        idle), whether it still runs every ``inspect`` seconds."""
        deadline = time.monotonic() + timeout
        inspected = time.monotonic()
        while time.monotonic() < deadline:
            logs = (await self._docker("logs", member.id, tail=20)).decode(errors="replace")
            if READY_LINE in logs:
                return
            if time.monotonic() - inspected >= inspect:
                inspected = time.monotonic()
                state = (await self._docker("inspect_container", member.id))["State"]
                if not state["Running"]:
                    raise PoolError(f"the launcher exited: {logs[-500:]}")
            await asyncio.sleep(look)
        raise PoolError(f"the launcher was not ready within {timeout:g} s")

    async def discard(self, member: Member) -> None:
        if member.id or member.name:
            with contextlib.suppress(Exception):
                await self._docker("remove_container", member.id or member.name, force=True)
        await self.release(member.name)

    # -- assignment ------------------------------------------------------------

    async def take(self, key: str) -> Member | None:
        """A ready member of ``key`` for one student, never to be given again; None if none.
        (A member leaves the ready list before anything is awaited: no other start
        or the maintenance can see it again.)"""
        now = self.clock()
        for m in list(self.ready):
            if m.key != key or m not in self.ready:
                continue
            self.ready.remove(m)
            if stale(m.created, now, self.max_age):
                self.discard_later(m)
                continue
            try:
                await offloop.run_io((m.dir / ASSIGNED).write_text, "")
            except OSError as e:  # not marked: it could be taken for a leftover; not used
                self.log.warning("Warm pool: cannot mark %s as given out: %s", m.name, e)
                self.discard_later(m)
                continue
            except BaseException:  # cancelled (the hub stops): out of the list, not lost
                self.discard_later(m)
                raise
            self.assigned_total += 1
            self.last_taken = now
            return m
        return None

    def discard_later(self, member: Member) -> None:
        task = asyncio.get_running_loop().create_task(self.discard(member))
        self._adding.add(task)
        task.add_done_callback(self._adding.discard)

    async def attach(
        self, member: Member, mounts: Sequence[Attachment], uid: int, gid: int
    ) -> None:
        """Mount each host path at its place under the member's slots, parents first:
        they appear inside the member. A mount point inside a mounted home is made
        in it for ``uid:gid`` and used by descriptor, never by a path the student
        controls; a read-only one is made read-only before it is moved in (a
        remount would not reach the member)."""
        for a in mounts:
            slot, _, rel = a.path.partition("/")
            root = str(member.dir / slot)
            # opened (and made) on a file thread: in a loaded home's filesystem this
            # held the hub's event loop for up to 100 ms
            fd = await offloop.run_io(paths.open_dir, root, rel, uid=uid, gid=gid)
            try:
                await self._attach_one(member, a, fd)
            finally:
                os.close(fd)

    async def _attach_one(self, member: Member, a: Attachment, fd: int) -> None:
        target = f"/proc/self/fd/{fd}"
        if not a.read_only:
            await commands.run(
                "mount", "--no-canonicalize", "--bind", a.source, target, pass_fds=(fd,)
            )
            return
        stage = self.base / STAGING / f"{member.name}-{secrets.token_hex(3)}"
        await offloop.run_io(stage.mkdir, mode=0o700)
        try:
            await commands.run("mount", "--bind", a.source, str(stage))
            await commands.run("mount", "-o", "remount,bind,ro", str(stage))
            await commands.run(
                "mount", "--no-canonicalize", "--move", str(stage), target, pass_fds=(fd,)
            )
        finally:
            if await offloop.run_io(mounted_at, stage) is not None:
                await commands.run("umount", "--lazy", str(stage), check=False)
            with contextlib.suppress(OSError):
                await offloop.run_io(stage.rmdir)

    async def hand_over(self, member: Member, identity: dict[str, Any], uid: int, gid: int) -> None:
        """Write the identity where only this member reads it (atomically), then wake it."""
        await offloop.run_io(self._write_identity, member, json.dumps(identity), uid, gid)

    @staticmethod
    def _write_identity(member: Member, text: str, uid: int, gid: int) -> None:
        files.atomic_write(
            member.channel / "identity.json", text, 0o400, owner=(uid, gid), tmp_dir=member.dir
        )
        wake(member.channel / WAKE)

    @staticmethod
    async def forget_identity(member_dir: Path) -> None:
        """The token leaves the channel once the server has read it and answers."""
        with contextlib.suppress(FileNotFoundError):
            await offloop.run_io((member_dir / "channel" / "identity.json").unlink)

    async def release(self, name: str) -> None:
        await self.release_dir(self.base, name, self.log)

    @staticmethod
    async def release_dir(base: Path, name: str, log: Any) -> None:
        """After a member's container is gone: unmount everything under its directory
        (deepest first) and remove it. Never removes a file of a home: rmdir only."""
        d = base / name
        prefix = os.path.realpath(d) + "/"
        for entry in sorted(
            (e for e in await offloop.run_io(mount_table) if e.mountpoint.startswith(prefix)),
            key=lambda e: e.mountpoint.count("/"),
            reverse=True,
        ):
            await commands.run("umount", "--lazy", entry.mountpoint, check=False)
        if any(e.mountpoint.startswith(prefix) for e in await offloop.run_io(mount_table)):
            log.error("Warm pool: something under %s is still mounted; left in place", d)
            return
        await offloop.run_io(_remove_member_dir, d)

    def status(self) -> dict[str, Any]:
        now = self.clock()
        return {
            "ready": len(self.ready),
            "starting": self.starting,
            "target": self.want,
            "why": self.why,
            "size": self.size,
            "fill_max": self.fill_max,
            "schedule": [w.text for w in self.windows],
            "assigned": self.assigned_total,
            "failures": self.failures,
            "members": [
                {"name": m.name, "key": m.key, "profile": m.label, "age_s": round(now - m.created)}
                for m in self.ready
            ],
            # each kind apart ("" the configuration's), unless it is the only one
            "kinds": {
                label: {
                    "ready": len(self.ready_of(label)),
                    "starting": self.starting_of.get(label, 0),
                    "target": self.wants.get(label, (0, ""))[0],
                    "why": self.wants.get(label, (0, ""))[1],
                }
                for label in sorted(self.kinds)
            }
            if set(self.kinds) - {""}
            else {},
            "updated": time.time(),
            "pid": os.getpid(),
        }


def _make_member_dir(member: Member, slots: Sequence[str]) -> None:
    """A new member's directory: its channel with the wake FIFO, its mount slots."""
    member.channel.mkdir(parents=True, mode=0o755)
    os.mkfifo(member.channel / WAKE, 0o644)  # the launcher sleeps on it
    for s in slots:
        (member.dir / s).mkdir(mode=0o755)


def _remove_member_dir(d: Path) -> None:
    """rmdir a member's directory and its empty slots (never a file of a home)."""
    for p in (d / "channel" / "identity.json", d / "channel" / WAKE, d / ASSIGNED):
        with contextlib.suppress(OSError):
            p.unlink()
    with contextlib.suppress(FileNotFoundError):
        for sub in sorted(d.iterdir(), reverse=True):
            with contextlib.suppress(OSError):
                sub.rmdir()
    with contextlib.suppress(OSError):
        d.rmdir()
