"""The spawner's side of the warm pool: its options, the member kind made from the
configuration alone, and a start from a member.

A mixin for :class:`~jhub_kit.QuotaDockerSpawner`. Members are made by a
*stand-in* spawner: the hub's spawner class, built from the hub's
configuration for a user who is nobody (``pre_spawn_hook`` and
``user_options`` never run for it), so no user's settings reach a member. A
start describes the user's server (:mod:`jhub_kit.spec`) and takes a member
only when :func:`jhub_kit.spec.pool_refusals` finds no difference that a
running container cannot take; otherwise it starts cold and the log says why.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyterhub.utils import random_port
from traitlets import Float, Int, List, TraitError, Unicode, validate

from .. import metrics, registry, spec
from ..loop import health as loop_mod
from ..quota.policy import Quota, QuotaError, build_quota, parse_partial
from ..standin import is_stand_in
from ..standin import stand_in as make_stand_in
from . import members as pool_mod
from . import schedule as pool_schedule
from .members import Attachment, Member, MemberKind, WarmPool
from .schedule import Window

if TYPE_CHECKING:
    from dockerspawner import DockerSpawner as _Base

    from ..loop.admission import StartGate
    from ..provision import HomeProvisioner
    from ..spec import Mountpoint, ServerSpec
else:
    from traitlets.config import LoggingConfigurable as _Base


class PoolMixin(_Base):
    """The warm pool's options and a start from it."""

    if TYPE_CHECKING:  # from the spawner's other parts
        quota: Quota | None
        profile: Any
        pool_member: str
        home_provisioner: Any
        start_after_queue_timeout: float

        @property
        def _log_name(self) -> str: ...

        async def describe(
            self, *, home_target: str | None = None, identity: bool = True
        ) -> ServerSpec: ...
        def quota_limits(self, quota: Quota, cpu_period: int | None = None) -> dict[str, Any]: ...
        def configured_defaults(self) -> dict[str, Any]: ...
        def start_gate(self) -> StartGate: ...
        async def prepare_network(self) -> None: ...
        async def _starts_as_root(self, create_user: str | None = None) -> bool: ...
        async def prepare_mounts(self, described: ServerSpec) -> None: ...
        async def host_path(self, m: Mountpoint, image: str = "") -> str: ...
        def home_owner(self) -> tuple[int, int]: ...
        def home_mount_target(self) -> str: ...
        def provisioner(self) -> HomeProvisioner | None: ...
        async def _provision_home(self) -> None: ...
        def _emit(self, progress: int, message: str) -> None: ...
        async def _wait_until_answering(self, ip: str, port: int) -> None: ...
        def default_object_name(self) -> str: ...
        async def load_profiles(self) -> list[Any]: ...
        def profiles(self, policy: Any = None) -> list[Any]: ...
        def _policy_file_obj(self) -> Any: ...
        def set_profile(self, chosen: Any) -> None: ...

    pool_size = Int(
        0,
        help="""Servers kept started ahead of time, each waiting for a student
        (:mod:`jhub_kit.pool`). A student whose start finds one ready gets it in
        about a second: their limits, home and volumes are applied to it, then
        their identity is handed over. A start whose server would differ from
        the pool's in anything else (another image, extra hosts, a command...)
        starts the normal way, and the hub log says why. The pool fills when the
        hub has started, and its unused servers are removed when the hub stops.
        0 turns it off (unless ``pool_schedule`` is set); ``pool_schedule`` and
        ``jhub-kit pool fill`` raise it for a class.
        Example: ``c.QuotaDockerSpawner.pool_size = 10``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_schedule = List(
        Unicode(),
        help="""Class times, when the pool holds more servers than ``pool_size``:
        entries ``"DAYS HH:MM-HH:MM SIZE"`` in the hub's local time, or
        ``"DAYS HH:MM-HH:MM SIZE PROFILE"`` for servers of the profile with that
        slug (``profile_list``). Days are ``mon`` .. ``sun``, lists (``mon,wed``),
        ranges (``mon-fri``) or ``daily``. Filling starts at the first time, so start a few minutes
        before the class (a member of the kit's test image costs about 1.6 CPU-seconds
        of imports, 40 took 39 s and 100 took 102 s on 2 cores; an image without its
        bytecode costs several times that); idle members above the size are removed
        after the span.
        Example: ``["mon 08:50-10:30 40", "wed 13:20-15:00 25 r-course"]``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    @validate("pool_schedule")
    def _valid_schedule(self, proposal: Any) -> list[str]:
        try:
            pool_schedule.parse_schedule(proposal.value)
        except pool_schedule.ScheduleError as e:
            raise TraitError(f"c.{type(self).__name__}.pool_schedule: {e}") from None
        return list(proposal.value)

    pool_fill_max = Int(
        100,
        min=0,
        help="""Most servers ``jhub-kit pool fill N`` may ask the pool to keep: a
        larger request is held to this (``jhub-kit pool status`` says so). Each
        waiting server holds its image's memory (about 100 MB for a small image).
        0: no cap. Example: ``c.QuotaDockerSpawner.pool_fill_max = 150``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    pool_max_age = Float(
        4 * 3600,
        help="""Seconds an unassigned pool member may wait before it is replaced by a
        new one (a fresh image, nothing long-lived). 0: no limit. Example: ``3600``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_dir = Unicode(
        "/run/jhub-kit/pool",
        help="""Host directory for the pool members' channels and mount slots
        (made a shared mount; the hub must run on the Docker host as root).
        Example: ``"/run/jhub-kit/pool"``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_python = Unicode(
        "python3",
        help="""The image's Python that runs the pool launcher (the one with
        jupyterhub installed). Example: ``"/opt/conda/bin/python"``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_lag_budget = Float(
        0.1,
        min=0,
        help="""Seconds the hub's event loop may run late while pooled starts are
        handed over. While its lag (measured every 20 ms, the largest of the last
        half second) is over this, pooled starts wait, one at a time, and each
        waiting student's progress says why: in a class's rush the hub keeps
        answering everyone's pages and API calls, at the cost of a slower last
        start. 0: no pacing. Example: ``c.QuotaDockerSpawner.pool_lag_budget = 0.25``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    pool_lag_max_wait = Float(
        20,
        min=0,
        help="""Most seconds a pooled start waits for the hub's event loop to catch up
        (``pool_lag_budget``); after that it starts anyway. Example: ``10``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    loop_stall_log = Float(
        0,
        min=0,
        help="""Log what held the hub's event loop whenever its 20 ms tick runs this
        many seconds or more late. A watchdog thread (started with the warm pool
        when the hub starts, ended when it stops) wakes four times per threshold
        (at most every 2 ms); while the tick is overdue it samples the loop
        thread's Python stack, and the warning names the kit's, JupyterHub's or
        another frame seen in most samples. A sample names what was running
        when it was taken, which may be later than the start of the stall; a
        stall is measured as how late the tick ran, up to 20 ms less than the
        hold. Nothing of asyncio is replaced. For finding what makes a hub slow.
        0: off. Example: ``c.QuotaDockerSpawner.loop_stall_log = 0.1``.

        .. versionadded:: 0.4

        .. versionchanged:: 0.5
           Sampled by a watchdog thread; asyncio's callbacks are no longer wrapped.
        """,
    ).tag(config=True)

    start_phases: dict[str, float]
    """Seconds in each phase of the last start from the pool (admission, take,
    home, mounts, limits, network, hand-over, answering), for the log and benchmarks."""

    start_marks: dict[str, float]
    """When the last start from the pool began and ended (the monotonic clock)."""

    def loop_health(self) -> loop_mod.LoopHealth:
        """This hub's event loop's lag sampler (started with the pool)."""
        health = loop_mod.of_this_loop(log=self.log)
        health.start(self.loop_stall_log)
        return health

    @property
    def pool_on(self) -> bool:
        """Whether the hub keeps a pool: ``pool_size``, ``pool_schedule``, or a
        profile's own ``pool_size`` (``profile_list``'s, or the policy file's as last
        read: :func:`wake_pool` reads the file itself)."""
        return self.pool_size > 0 or bool(self.pool_schedule) or self._profile_pools()

    def _profile_pools(self, profiles: list[Any] | None = None) -> bool:
        """Whether a profile has a ``pool_size`` of its own (of ``profiles``, else the
        configured ones; profiles that do not parse have none: said at each start)."""
        if profiles is None:
            try:
                pf = self._policy_file_obj()
                profiles = self.profiles(None if pf is None else pf.cached())
            except (QuotaError, TraitError):
                return False
        return any(p.pool_size for p in profiles)

    @property
    def is_stand_in(self) -> bool:
        return is_stand_in(self.user)

    def warm_pool(self) -> WarmPool | None:
        """This hub's pool (one per hub, shared by every user's spawner); None if off."""
        if not self.pool_on:
            # a pool started for the policy file's profiles (the file since edited)
            started = [p for p in registry.all_of("pool", self.config) if p.prefix == self.prefix]
            return started[0] if started else None
        return self._make_pool()

    def _make_pool(self) -> WarmPool:
        """This hub's pool, made the first time."""
        pool: WarmPool = registry.shared(
            "pool",
            self.config,
            lambda: WarmPool(
                prefix=self.prefix,
                base=self.pool_dir,
                size=self.pool_size,
                max_age=self.pool_max_age,
                client=self.client,
                log=self.log,
                windows=pool_schedule.parse_schedule(self.pool_schedule),
                fill_max=self.pool_fill_max,
            ),
            type(self),
            self.prefix,
        )
        metrics.watch_pool(lambda: len(pool.ready))
        return pool

    async def running_pool(self, wanted: bool = False) -> WarmPool | None:
        """:meth:`warm_pool`, filling (started once per hub from the configuration,
        by a stand-in spawner); None if off or its servers cannot be pooled.
        ``wanted``: the caller found a pool asked for (the policy file's profiles)."""
        pool = self._make_pool() if wanted else self.warm_pool()
        if pool is None or pool.closed:
            return None
        self.loop_health()
        if not pool.kinds:
            lock = registry.shared("pool-start-lock", self.config, asyncio.Lock)
            async with lock:
                if not pool.kinds and not pool.closed:
                    kinds, sizes = await self._member_kinds(pool.windows)
                    if not kinds:
                        return None
                    pool.start(kinds, self.start_gate().background_slot, sizes)
        return pool if pool.kinds else None

    async def _member_kinds(
        self, windows: list[Window]
    ) -> tuple[dict[str, MemberKind], dict[str, int]]:
        """The kinds of members the pool keeps: the configuration's (""), and one per
        profile with a ``pool_size`` or named by one of the class times ``windows``;
        and those profiles' own sizes. Read when the pool starts (with the hub)."""
        kinds: dict[str, MemberKind] = {}
        stand_in = self._stand_in()
        kind = await stand_in.member_kind()
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
            kind = await self._stand_in(profile).member_kind()
            if kind is None:
                self.log.warning("Warm pool: the profile %r is not pooled (said above)", slug)
                continue
            kinds[slug], sizes[slug] = kind, profile.pool_size
        return kinds, sizes

    def _stand_in(self, profile: Any = None) -> PoolMixin:
        """The hub's spawner class for nobody, from the configuration alone (and the
        image and overrides of ``profile``, if given)."""
        if self.is_stand_in and profile is None:
            return self
        stand_in = make_stand_in(type(self), self.config, hub=self.hub)
        if profile is not None:
            stand_in.set_profile(profile)
        return stand_in

    def _member_quota(self) -> Quota:
        """Limits of a member before it is given out: the configured static defaults
        (never a user's: a callable default is skipped), at least 1G of memory."""
        static = {
            k: v
            for k, v in self.configured_defaults().items()
            if k in ("mem_limit", "cpu_limit", "pids_limit") and not callable(v)
        }
        quota = build_quota([parse_partial(static, where="pool member")])
        if quota.mem_limit is None:
            quota = Quota(**{**quota.as_dict(), "mem_limit": 1024**3})
        return quota

    async def member_kind(self) -> MemberKind | None:
        """(On the stand-in.) What members are made of, or None with a warning when
        the configuration's servers cannot be pooled."""
        described = await self.describe(home_target=self._home_target_if_any())
        why = spec.poolable(described)
        user = described.create.get("user")
        if await self._starts_as_root(None if user is None else str(user)):
            why.append(
                "the server starts as root (the image's USER, or extra_create_kwargs' user): "
                "the launcher would run it as root, skipping the start script that changes "
                "the user"
            )
        if why:
            self.log.warning("Warm pool off: the servers cannot be pooled: %s", "; ".join(why))
            return None
        limits = self.quota_limits(self._member_quota())
        directory_slots = [spec.slot_dir(i) for i in range(len(spec.slots(described.mounts)))]

        async def create(name: str, directory: Path) -> str:
            await self.prepare_network()  # isolation of a bridge network before anything runs
            create, host = spec.member_kwargs(
                described,
                name=name,
                member_dir=str(directory),
                launcher=pool_mod.LAUNCHER,
                python=self.pool_python,
                limits=limits,
                prefix=self.prefix,
            )
            kwargs = {**create, "host_config": self.client.create_host_config(**host)}
            container = await self.docker("create_container", **kwargs)
            await self.docker("start", container["Id"])
            cid: str = container["Id"]
            return cid

        return MemberKind(
            spec.pool_key(described), spec.fixed_part(described), directory_slots, create
        )

    def _home_target_if_any(self) -> str | None:
        return self.home_mount_target() if self.home_provisioner else None

    # -- a start from the pool -----------------------------------------------------

    async def try_pool(self) -> tuple[str, int] | None:
        """Start from a member if one fits this user's server; None: start cold."""
        self.start_marks = {"began": time.monotonic()}
        pool = await self.running_pool()
        if pool is None or not pool.kinds:
            return None
        assert self.quota is not None
        if self.network_name == "host":
            self.port = random_port()
        described = await self.describe(home_target=self._home_target_if_any())
        # members of any kind whose servers are this one's (its profile's, the
        # configuration's, or another profile's with the same image and settings);
        # else the log says how it differs from its profile's (or the configuration's)
        kind = None if spec.poolable(described) else pool.kind_for(spec.pool_key(described))
        why: list[str] = []
        if kind is None:
            slug = self.profile.slug if self.profile is not None else ""
            closest = pool.kinds.get(slug) or pool.kind or next(iter(pool.kinds.values()))
            why = spec.pool_refusals(described, closest.fixed) or ["no kind of member fits"]
        if self.quota.mem_limit is None:
            why.append("the quota has no memory limit (a running container's cannot be lifted)")
        if why:
            self.log.info(
                "%s: starting cold, not from the warm pool: %s", self._log_name, "; ".join(why)
            )
            metrics.count_cold("no_memory_limit" if self.quota.mem_limit is None else "differs")
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
                self.pool_lag_budget, self.pool_lag_max_wait, self._held_back
            )
        except BaseException:  # cancelled while paced: the member is nobody's
            pool.discard_later(member)
            raise
        self.start_phases["admission"] = waited
        try:
            started = await asyncio.wait_for(
                self._start_from_pool(pool, member), self.start_after_queue_timeout
            )
            metrics.POOL_GIVEN.inc()
            self.start_marks["ended"] = time.monotonic()
            return started
        except Exception as e:  # a member that fails is removed; the start goes cold
            metrics.count_cold("member_failed")
            self.log.warning(
                "%s: warm pool member %s failed (%s); starting cold", self._log_name, member.name, e
            )
            await pool.discard(member)
            self.object_id, self.object_name = "", self.default_object_name()
            self.pool_member = ""
            return None

    def _held_back(self, lag: float) -> None:
        self._emit(
            9,
            f"The hub is busy starting the class's servers (it answers {lag * 1000:.0f} ms "
            "late); yours is waiting in the warm pool and starts in a moment",
        )

    def _phase(self, name: str, since: float) -> float:
        """Record phase ``name`` as the time since ``since``; returns now."""
        now = time.monotonic()
        self.start_phases[name] = now - since
        return now

    async def _start_from_pool(self, pool: WarmPool, member: Member) -> tuple[str, int]:
        """Give ``member`` to this user: limits, home and volumes, then the identity."""
        assert self.quota is not None
        t = time.monotonic()
        self.pool_member = member.name
        self._emit(10, "A server is waiting for you in the warm pool")
        await self._provision_home()
        t = self._phase("home", t)
        described = await self.describe()
        await self.prepare_mounts(described)
        uid, gid = self.home_owner()
        attachments = [
            # a named volume not made yet is made as the cold start's container would make it
            Attachment(await self.host_path(p.mount, described.image), p.path, p.mount.read_only)
            for p in spec.mount_plan(described)
        ]
        await pool.attach(member, attachments, uid, gid)
        t = self._phase("mounts", t)
        body = pool_mod.update_body(self.quota, described.host_config.get("cpu_period") or 100_000)
        await asyncio.wrap_future(
            self.executor.submit(pool_mod.engine_update, self.client, member.id, body)
        )
        t = self._phase("limits", t)
        self.object_id, self.object_name = member.id, member.name
        await self.prepare_network()
        described = await self.describe()  # the Hub URL worked out for this network
        ip, port = await self.get_ip_and_port()
        t = self._phase("network", t)
        identity = {"env": described.env, "args": described.args}
        await pool.hand_over(member, identity, uid, gid)
        self._emit(70, "Your server from the warm pool is starting")
        if self.post_start_cmd:
            await self.post_start_exec()
        t = self._phase("hand_over", t)
        await self._wait_until_answering(ip, port)
        t = self._phase("answering", t)
        await pool.forget_identity(member.dir)
        self._emit(90, "Server is answering (it came from the warm pool)")
        self.log.info(
            "%s: from the warm pool in %.2f s (%s)",
            self._log_name,
            sum(self.start_phases.values()),
            ", ".join(f"{k} {v:.2f}" for k, v in self.start_phases.items()),
        )
        return ip, port

    async def release_pool_member(self, member: str) -> None:
        """After pooled server ``member``'s container is gone: its slots unmounted, its
        directory removed ("": not a pooled server, nothing to do)."""
        if member:
            await WarmPool.release_dir(Path(self.pool_dir), member, self.log)


# -- starting the pool with the hub -------------------------------------------------------


async def wake_pool(app: Any) -> None:
    """Start the warm pool of a hub that serves, before anyone logs in (with or
    without users in its database): a stand-in spawner made from the hub's
    configuration starts it, if ``pool_size``, ``pool_schedule`` or a profile's own
    ``pool_size`` (``profile_list``'s or the policy file's) asks for one."""
    spawner_class = getattr(app, "spawner_class", None)
    if not (isinstance(spawner_class, type) and issubclass(spawner_class, PoolMixin)):
        return
    stand_in = make_stand_in(spawner_class, app.config, hub=app.hub)
    wanted = stand_in.pool_on
    if not wanted:
        try:
            wanted = stand_in._profile_pools(await stand_in.load_profiles())
        except (QuotaError, TraitError) as e:  # said again at each start; no pool to fill
            stand_in.log.error("Warm pool: the profiles are not read, none pooled: %s", e)
    if wanted:
        await stand_in.running_pool(wanted=True)


async def close_pools(config: Any = None) -> None:
    """Remove the unassigned members of the pools of the hub that owns ``config``
    (every hub's, if None): what a hub's shutdown does."""
    for pool in registry.forget("pool", config):
        await pool.close()
