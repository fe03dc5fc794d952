"""The warm pool's part of a start: the pool of this hub, the kinds of members made
from the configuration alone, and a start from a member.

A part, not a mixin: :class:`~jhub_kit.QuotaDockerSpawner` makes one
(:attr:`~jhub_kit.QuotaDockerSpawner.pool_part`) and calls it in its one start
(:meth:`PoolPart.try_start`); the part calls the spawner's public methods only
(its description, home, mounts and network), as
:class:`PoolSpawner` lists them. The options are the spawner's
(:class:`jhub_kit.pool.mixin.PoolMixin`, traits only).

Members are made by a *stand-in* spawner: the hub's spawner class, built from the
hub's configuration for a user who is nobody (``pre_spawn_hook`` and
``user_options`` never run for it), so no user's settings reach a member. A start
describes the user's server once (:mod:`jhub_kit.spec`) and takes a member only
when :func:`jhub_kit.spec.pool_refusals` finds no difference that a running
container cannot take; otherwise it starts cold and the log says why. The
description is then refined as the start learns more (the home provisioned, the
Hub's address on the network), not made again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from jupyterhub.utils import random_port
from traitlets import TraitError

from .. import metrics, offloop, registry, spec
from ..loop import health as loop_mod
from ..pool import members as pool_mod
from ..pool import schedule as pool_schedule
from ..pool.members import Attachment, Member, MemberKind, WarmPool
from ..pool.schedule import Window
from ..provision import HomeProvisioner
from ..quota.policy import Quota, QuotaError, build_quota, parse_partial
from ..quota.policy_file import PolicyFile
from ..quota.profiles import Profile
from ..spec import Mountpoint, ServerSpec
from ..standin import stand_in as make_stand_in


class PoolSpawner(Protocol):
    """What the pool part needs of its spawner (:class:`~jhub_kit.QuotaDockerSpawner`
    is one): the pool's options, the description of the user's server, its home
    and network, the engine, and the start's progress. Public names only."""

    # the hub, the engine, the log
    config: Any
    hub: Any
    client: Any
    log: logging.Logger | logging.LoggerAdapter[Any]

    @property
    def executor(self) -> ThreadPoolExecutor: ...

    def docker(self, method: str, *args: Any, **kwargs: Any) -> Awaitable[Any]: ...

    # the warm pool's options (:class:`jhub_kit.pool.mixin.PoolMixin`) and the start's
    pool_size: int
    pool_schedule: list[Any]
    pool_dir: str
    pool_max_age: float
    pool_fill_max: int
    pool_python: str
    pool_lag_budget: float
    pool_lag_max_wait: float
    loop_stall_log: float
    prefix: str
    start_after_queue_timeout: float
    home_provisioner: str | HomeProvisioner | None
    post_start_cmd: Any
    network_name: str
    port: int

    # who it is, and its profile
    @property
    def is_stand_in(self) -> bool: ...

    @property
    def log_name(self) -> str: ...

    @property
    def pool_part(self) -> PoolPart: ...

    profile: Profile | None

    def policy_file(self) -> PolicyFile | None: ...

    def profiles(self, policy: Any = None) -> list[Profile]: ...

    async def load_profiles(self) -> list[Profile]: ...

    def set_profile(self, chosen: Profile) -> None: ...

    def configured_defaults(self) -> dict[str, Any]: ...

    def quota_limits(self, quota: Quota, cpu_period: int | None = None) -> dict[str, Any]: ...

    # the description, the home, the network
    async def describe(
        self, *, home_target: str | None = None, identity: bool = True
    ) -> ServerSpec: ...

    async def starts_as_root(self, create_user: str | None = None) -> bool: ...

    def home_mount_target(self) -> str: ...

    def home_input(self, home_target: str | None = None) -> dict[str, Any] | None: ...

    def home_full_now(self) -> str: ...

    def home_owner(self) -> tuple[int, int]: ...

    async def provision_home(self, quota: Quota, progress: Callable[[int, str], None]) -> None: ...

    async def provision_courses(self) -> None: ...

    def course_mounts(self) -> tuple[dict[str, Any], ...]: ...

    async def prepare_mounts(self, described: ServerSpec) -> None: ...

    async def host_path(self, m: Mountpoint, image: str = "") -> str: ...

    async def prepare_network(self) -> None: ...

    def get_env(self) -> dict[str, str]: ...

    def get_args(self) -> list[str]: ...

    # the start
    def start_gate(self) -> Any: ...

    def runs_in(self, member: Member | None, started: bool = True) -> None: ...

    def emit_progress(self, progress: int, message: str) -> None: ...

    async def get_ip_and_port(self) -> tuple[str, int]: ...

    async def post_start_exec(self) -> Any: ...

    async def wait_until_answering(self, ip: str, port: int) -> None: ...


class PoolPart:
    """The warm pool as one spawner sees it, and a start from it."""

    def __init__(self, spawner: PoolSpawner) -> None:
        self.spawner = spawner
        self.log = spawner.log
        self.start_phases: dict[str, float] = {}
        self.start_marks: dict[str, float] = {}

    # -- this hub's pool -----------------------------------------------------------

    def loop_health(self) -> loop_mod.LoopHealth:
        """This hub's event loop's lag sampler (started with the pool)."""
        health = loop_mod.of_this_loop(log=self.log)
        health.start(self.spawner.loop_stall_log)
        return health

    @property
    def on(self) -> bool:
        """Whether the hub keeps a pool: ``pool_size``, ``pool_schedule``, or a
        profile's own ``pool_size`` (``profile_list``'s, or the policy file's as last
        read: :func:`~jhub_kit.pool.mixin.wake_pool` reads the file itself)."""
        sp = self.spawner
        return sp.pool_size > 0 or bool(sp.pool_schedule) or self.profile_pools()

    def profile_pools(self, profiles: list[Any] | None = None) -> bool:
        """Whether a profile has a ``pool_size`` of its own (of ``profiles``, else the
        configured ones; profiles that do not parse have none: said at each start)."""
        if profiles is None:
            try:
                pf = self.spawner.policy_file()
                profiles = self.spawner.profiles(None if pf is None else pf.cached())
            except (QuotaError, TraitError):
                return False
        return any(p.pool_size for p in profiles)

    def warm_pool(self) -> WarmPool | None:
        """This hub's pool (one per hub, shared by every user's spawner); None if off."""
        sp = self.spawner
        if not self.on:
            # a pool started for the policy file's profiles (the file since edited)
            started = [p for p in registry.all_of("pool", sp.config) if p.prefix == sp.prefix]
            return started[0] if started else None
        return self.make_pool()

    def make_pool(self) -> WarmPool:
        """This hub's pool, made the first time."""
        sp = self.spawner
        pool: WarmPool = registry.shared(
            "pool",
            sp.config,
            lambda: WarmPool(
                prefix=sp.prefix,
                base=sp.pool_dir,
                size=sp.pool_size,
                max_age=sp.pool_max_age,
                client=sp.client,
                log=self.log,
                windows=pool_schedule.parse_schedule(sp.pool_schedule),
                fill_max=sp.pool_fill_max,
            ),
            type(sp),
            sp.prefix,
        )
        metrics.watch_pool(lambda: len(pool.ready))
        return pool

    def wake_with_the_hub(self) -> None:
        """Called as the spawner is made: in a hub whose pool has not started because
        its config did not ask for the kit's start-up (:func:`jhub_kit.follow_hub`),
        start it now, with the hub's first server of the kit (one still running when
        the hub starts, or the first login), and say how to fill it at the start."""
        sp = self.spawner
        if sp.is_stand_in:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not in a hub
        from jupyterhub.app import JupyterHub

        app = JupyterHub.instance() if JupyterHub.initialized() else None
        if app is None or app.config is not sp.config:
            return  # not this hub's spawner
        config = sp.config
        if registry.all_of("hub-followed", config) or registry.all_of("pool-woken", config):
            return  # the hub's start-up runs it, or this already did
        if any(p.kinds for p in registry.all_of("pool", config)):
            return
        woken: list[asyncio.Task[None]] = registry.shared("pool-woken", config, list)
        woken.append(loop.create_task(self._wake(app), name="jhub-kit-pool-wake"))

    async def _wake(self, app: Any) -> None:
        from ..pool.mixin import wake_pool

        await wake_pool(app)
        if any(p.kinds for p in registry.all_of("pool", self.spawner.config)):
            self.log.warning(
                "Warm pool: filling from now, with the hub's first server of the kit (%s); "
                "the starts until it is warm are cold. To fill it when the hub starts, add "
                "`import jhub_kit; jhub_kit.follow_hub()` to jupyterhub_config.py",
                self.spawner.log_name,
            )

    async def running_pool(self, wanted: bool = False) -> WarmPool | None:
        """:meth:`warm_pool`, filling (started once per hub from the configuration,
        by a stand-in spawner); None if off or its servers cannot be pooled.
        ``wanted``: the caller found a pool asked for (the policy file's profiles)."""
        pool = self.make_pool() if wanted else self.warm_pool()
        if pool is None or pool.closed:
            return None
        self.loop_health()
        if not pool.kinds:
            lock = registry.shared("pool-start-lock", self.spawner.config, asyncio.Lock)
            async with lock:
                if not pool.kinds and not pool.closed:
                    kinds, sizes = await self.member_kinds(pool.windows)
                    if not kinds:
                        return None
                    pool.start(kinds, self.spawner.start_gate().background_slot, sizes)
        return pool if pool.kinds else None

    # -- what members are made of ------------------------------------------------------

    async def member_kinds(
        self, windows: list[Window]
    ) -> tuple[dict[str, MemberKind], dict[str, int]]:
        """The kinds of members the pool keeps: the configuration's (""), and one per
        profile with a ``pool_size`` or named by one of the class times ``windows``;
        and those profiles' own sizes. Read when the pool starts (with the hub)."""
        kinds: dict[str, MemberKind] = {}
        stand_in = self.stand_in()
        kind = await stand_in.pool_part.member_kind()
        if kind is not None:
            kinds[""] = kind
        named = {w.profile for w in windows} - {""}
        try:
            profiles = {p.slug: p for p in await stand_in.load_profiles()}
        except Exception as e:  # said at each start too; the configuration's kind goes on
            self.log.error("Warm pool: the profiles are not read, none pooled: %s", e)
            profiles = {}
        for slug in sorted(named - set(profiles)):
            self.log.warning(
                "Warm pool: pool_schedule names the profile %r, which profile_list does not "
                "have; its entries are ignored (write a profile's slug)",
                slug,
            )
        sizes = {}
        for slug, profile in profiles.items():
            if not profile.pool_size and slug not in named:
                continue
            kind = await self.stand_in(profile).pool_part.member_kind()
            if kind is None:
                self.log.warning("Warm pool: the profile %r is not pooled (said above)", slug)
                continue
            kinds[slug], sizes[slug] = kind, profile.pool_size
        return kinds, sizes

    def stand_in(self, profile: Any = None) -> PoolSpawner:
        """The hub's spawner class for nobody, from the configuration alone (and the
        image and overrides of ``profile``, if given)."""
        sp = self.spawner
        if sp.is_stand_in and profile is None:
            return sp
        stand_in: PoolSpawner = make_stand_in(type(sp), sp.config, hub=sp.hub)
        if profile is not None:
            stand_in.set_profile(profile)
        return stand_in

    def member_quota(self) -> Quota:
        """Limits of a member before it is given out: the configured static defaults
        (never a user's: a callable default is skipped), at least 1G of memory."""
        static = {
            k: v
            for k, v in self.spawner.configured_defaults().items()
            if k in ("mem_limit", "cpu_limit", "pids_limit") and not callable(v)
        }
        quota = build_quota([parse_partial(static, where="pool member")])
        if quota.mem_limit is None:
            quota = Quota(**{**quota.as_dict(), "mem_limit": 1024**3})
        return quota

    async def member_kind(self) -> MemberKind | None:
        """(On the stand-in.) What members are made of, or None with a warning when
        the configuration's servers cannot be pooled."""
        sp = self.spawner
        described = await sp.describe(home_target=self.home_target())
        why = spec.poolable(described)
        user = described.create.get("user")
        if await sp.starts_as_root(None if user is None else str(user)):
            why.append(
                "the server starts as root (the image's USER, or extra_create_kwargs' user): "
                "the launcher would run it as root, skipping the start script that changes "
                "the user"
            )
        if why:
            self.log.warning("Warm pool off: the servers cannot be pooled: %s", "; ".join(why))
            return None
        limits = sp.quota_limits(self.member_quota())
        directory_slots = [spec.slot_dir(i) for i in range(len(spec.slots(described.mounts)))]

        launcher = await offloop.run_io(pool_mod.launcher_copy, Path(sp.pool_dir))

        async def create(name: str, directory: Path) -> str:
            await sp.prepare_network()  # isolation of a bridge network before anything runs
            create, host = spec.member_kwargs(
                described,
                name=name,
                member_dir=str(directory),
                launcher=str(launcher),
                python=sp.pool_python,
                limits=limits,
                prefix=sp.prefix,
            )
            kwargs = {**create, "host_config": sp.client.create_host_config(**host)}
            container = await sp.docker("create_container", **kwargs)
            await sp.docker("start", container["Id"])
            cid: str = container["Id"]
            return cid

        return MemberKind(
            spec.pool_key(described), spec.fixed_part(described), directory_slots, create
        )

    def home_target(self) -> str | None:
        """Where the home will be mounted, if the kit provisions one."""
        sp = self.spawner
        return sp.home_mount_target() if sp.home_provisioner else None

    # -- a start from the pool -----------------------------------------------------

    async def try_start(self, quota: Quota) -> tuple[str, int] | None:
        """Start from a member if one fits this user's server (with ``quota``);
        None: start cold."""
        sp = self.spawner
        self.start_marks = {"began": time.monotonic()}
        pool = await self.running_pool()
        if pool is None or not pool.kinds:
            return None
        if sp.network_name == "host":
            sp.port = random_port()
        described = await self.describe_or_cold()
        if described is None:
            return None
        # members of any kind whose servers are this one's (its profile's, the
        # configuration's, or another profile's with the same image and settings);
        # else the log says how it differs from its profile's (or the configuration's)
        kind = None if spec.poolable(described) else pool.kind_for(spec.pool_key(described))
        why: list[str] = []
        if kind is None:
            slug = sp.profile.slug if sp.profile is not None else ""
            closest = pool.kinds.get(slug) or pool.kind or next(iter(pool.kinds.values()))
            why = spec.pool_refusals(described, closest.fixed) or ["no kind of member fits"]
        if quota.mem_limit is None:
            why.append("the quota has no memory limit (a running container's cannot be lifted)")
        if why:
            self.log.info(
                "%s: starting cold, not from the warm pool: %s", sp.log_name, "; ".join(why)
            )
            metrics.count_cold("no_memory_limit" if quota.mem_limit is None else "differs")
            return None
        assert kind is not None  # no kind: a reason above
        t0 = time.monotonic()
        self.start_phases = {}
        member = await pool.take(kind.key)  # kept for this start while it is paced
        if member is None:
            metrics.count_cold("empty")
            return None
        self._phase("take", t0)
        try:
            waited = await self.loop_health().admit(
                sp.pool_lag_budget, sp.pool_lag_max_wait, self._held_back
            )
        except BaseException:  # cancelled while paced: the member is nobody's
            pool.discard_later(member)
            raise
        self.start_phases["admission"] = waited
        try:
            started = await asyncio.wait_for(
                self._start_from(pool, member, described, quota), sp.start_after_queue_timeout
            )
            metrics.POOL_GIVEN.inc()
            self.start_marks["ended"] = time.monotonic()
            return started
        except Exception as e:  # a member that fails is removed; the start goes cold
            metrics.count_cold("member_failed")
            self.log.warning(
                "%s: warm pool member %s failed (%s); starting cold", sp.log_name, member.name, e
            )
            await pool.discard(member)
            sp.runs_in(None)
            return None

    async def describe_or_cold(self) -> ServerSpec | None:
        """The user's server described for a start from the pool; None (start cold)
        when its image is not on this host: the description reads the image (its
        ``Cmd``, ``User``, the search paths a course extends) before any pull, and
        a cold start pulls it first."""
        import docker.errors

        sp = self.spawner
        try:
            return await sp.describe(home_target=self.home_target())
        except docker.errors.ImageNotFound as e:
            self.log.info(
                "%s: starting cold, not from the warm pool: the image is not here (%s)",
                sp.log_name,
                e,
            )
            metrics.count_cold("differs")
            return None

    def _held_back(self, lag: float) -> None:
        self.spawner.emit_progress(
            9,
            f"The hub is busy starting the class's servers (it answers {lag * 1000:.0f} ms "
            "late); yours is waiting in the warm pool and starts in a moment",
        )

    def _phase(self, name: str, since: float) -> float:
        """Record phase ``name`` as the time since ``since``; returns now."""
        now = time.monotonic()
        self.start_phases[name] = now - since
        return now

    async def _start_from(
        self, pool: WarmPool, member: Member, described: ServerSpec, quota: Quota
    ) -> tuple[str, int]:
        """Give ``member`` to this user (``described`` before the home was made):
        limits, home and volumes, then the identity."""
        sp = self.spawner
        t = time.monotonic()
        sp.runs_in(member, started=False)
        sp.emit_progress(10, "A server is waiting for you in the warm pool")
        await sp.provision_home(quota, sp.emit_progress)
        await sp.provision_courses()
        t = self._phase("home", t)
        described = described.refined(
            home=sp.home_input(), home_full=sp.home_full_now(), courses=sp.course_mounts()
        )
        await sp.prepare_mounts(described)
        uid, gid = sp.home_owner()
        attachments = [
            # a named volume not made yet is made as the cold start's container would make it
            Attachment(await sp.host_path(p.mount, described.image), p.path, p.mount.read_only)
            for p in spec.mount_plan(described)
        ]
        await pool.attach(member, attachments, uid, gid)
        t = self._phase("mounts", t)
        body = pool_mod.update_body(quota, described.host_config.get("cpu_period") or 100_000)
        await asyncio.wrap_future(
            sp.executor.submit(pool_mod.engine_update, sp.client, member.id, body)
        )
        t = self._phase("limits", t)
        sp.runs_in(member)
        await sp.prepare_network()
        # the Hub URL worked out for this network is in the environment now
        described = described.refined(env=sp.get_env(), args=sp.get_args())
        ip, port = await sp.get_ip_and_port()
        t = self._phase("network", t)
        identity = {"env": described.env, "args": described.args}
        await pool.hand_over(member, identity, uid, gid)
        sp.emit_progress(70, "Your server from the warm pool is starting")
        if sp.post_start_cmd:
            await sp.post_start_exec()
        t = self._phase("hand_over", t)
        await sp.wait_until_answering(ip, port)
        t = self._phase("answering", t)
        await pool.forget_identity(member.dir)
        sp.emit_progress(90, "Server is answering (it came from the warm pool)")
        self.log.info(
            "%s: from the warm pool in %.2f s (%s)",
            sp.log_name,
            sum(self.start_phases.values()),
            ", ".join(f"{k} {v:.2f}" for k, v in self.start_phases.items()),
        )
        return ip, port

    async def release(self, member: str) -> None:
        """After pooled server ``member``'s container is gone: its slots unmounted, its
        directory removed ("": not a pooled server, nothing to do)."""
        if member:
            await WarmPool.release_dir(Path(self.spawner.pool_dir), member, self.log)
