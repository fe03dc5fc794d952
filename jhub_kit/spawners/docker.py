"""QuotaDockerSpawner: DockerSpawner with per-user and per-group quotas.

The engine's steps of the one start (:class:`jhub_kit.spawners.kit.KitSpawner`):
it resolves the user's quota (:mod:`jhub_kit.quota`), describes the user's
server as data (:mod:`jhub_kit.spec`, one description for every path), and then
either gives the user a warm pool member that fits that description (the pool
part, :mod:`.pool`) or creates exactly that description cold, through the start
queue (:mod:`.start_queue`). Before either, the network part
(:mod:`jhub_kit.network.part`) works out the Hub's address and isolates the
servers' network.
"""

from __future__ import annotations

import asyncio
import posixpath
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from traitlets import Int

from .. import metrics
from ..network.mixin import NetworkMixin
from ..network.part import NetworkPart
from ..pool.members import Member, WarmPool
from ..pool.mixin import PoolMixin
from ..quota import docker_limits
from ..quota.courses import FOLDER
from ..quota.nbgrader import KIT_DIR, STAFF_FOLDER
from ..quota.policy import Quota, format_size
from ..spec import KitFolders, inside
from ..standin import is_stand_in
from . import oom
from .adapter import DockerSpawnerAdapter
from .kit import KitSpawner
from .kit_folders import engine_sees_folders, run_in
from .pool import PoolPart


class DockerOptions(PoolMixin, NetworkMixin):
    """QuotaDockerSpawner's own options, traits only (configured as
    ``c.QuotaDockerSpawner.<name>``): the warm pool's (:mod:`jhub_kit.pool.mixin`),
    the network's (:mod:`jhub_kit.network.mixin`) and the engine's threads."""

    docker_threads = Int(
        4,
        min=1,
        help="""Worker threads for Docker API calls, shared by all servers.

        DockerSpawner runs every Docker call of the hub through one thread, which
        serializes a classroom of simultaneous spawns. Example: ``8``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)


class QuotaDockerSpawner(KitSpawner, DockerOptions, DockerSpawnerAdapter):
    """A DockerSpawner that enforces per-user and per-group quotas on every spawn.

    Configure defaults with the usual traits (``mem_limit``, ``cpu_limit``, plus
    ``swap_limit``, ``pids_limit``, ``disk_limit``), then raise or lower them for
    groups and users with :attr:`quota_groups`, :attr:`quota_users` or a
    :attr:`quota_policy_file` that can be edited while the hub runs.
    """

    _kit_executor: ThreadPoolExecutor | None = None

    # DockerSpawner's traits, typed for the parts that set them (mypy cannot infer
    # them through the pool part's import of this class): annotations, no values
    object_id: str
    object_name: str
    hub_connect_url: str | None

    @property
    def executor(self) -> ThreadPoolExecutor:
        cls = type(self)
        if cls._kit_executor is None:
            cls._kit_executor = ThreadPoolExecutor(
                self.docker_threads, thread_name_prefix="jhub-kit-docker"
            )
        return cls._kit_executor

    # -- the description ---------------------------------------------------------

    def quota_limits(self, quota: Quota, cpu_period: int | None = None) -> dict[str, Any]:
        """``quota`` as host-config keywords (the CFS period of ``extra_host_config``)."""
        return docker_limits.host_config_limits(
            quota, cpu_period=cpu_period or docker_limits.DEFAULT_CPU_PERIOD
        )

    async def engine_inputs(self) -> dict[str, Any]:
        """DockerSpawner's options as the container's: ``extra_create_kwargs`` and
        ``extra_host_config`` evaluated as DockerSpawner does, ``volumes``, ``mounts``,
        ``links``, the quota as host-config limits, the secure defaults for the
        create kwargs' ``user``, ``post_start_cmd`` and a full home's notice."""
        ecc = await self.evaluated_extra_create_kwargs()
        ehc = await self.evaluated_extra_host_config()
        limits = {} if self.quota is None else self.quota_limits(self.quota, ehc.get("cpu_period"))
        user = ecc.get("user")
        return {
            "use_internal_ip": self.use_internal_ip,
            "remove": self.remove,
            "volume_binds": self.volume_binds,
            "mount_binds": [dict(m) for m in self.mount_binds],
            "links": dict(self.links or {}),
            "extra_create_kwargs": ecc,
            "extra_host_config": ehc,
            "security": await self.security_host_config(None if user is None else str(user)),
            "limits": limits,
            "post_start_cmd": self.post_start_cmd,
            "home_full": self.home_full_now(),
        }

    async def kit_folders_here(self) -> KitFolders:
        """Which of the kit's own folders this engine's host has, asked once per class
        and engine (:func:`~jhub_kit.spawners.kit_folders.engine_sees_folders`, in the
        spawner's threads) when a server or a pool member could bind one: with
        :attr:`lab_notices`, :attr:`home_full_notice` on homes the kit provisions (a
        home measured full later in a start refines the description), or the warm
        pool. Cold starts and pool
        members are described from the same answer."""
        notice = bool(self.home_full_notice) and self.home_provisioner is not None
        if not (self.lab_notices or notice or self.pool_on):
            return KitFolders()  # nothing here binds either (no home can be full)
        engine = str(getattr(self.client, "base_url", ""))
        return await engine_sees_folders(
            run_in(self.executor),
            self.client,
            self.image,
            (type(self).__name__, engine),
            self.log,
            notice=notice,
            lab=bool(self.lab_notices),
        )

    async def create_object(self) -> dict[str, Any]:
        """Create exactly this user's description. As DockerSpawner allows, it may be
        called outside :meth:`start`: the quota is then resolved here."""
        if self.quota is None:
            self.quota = await self.resolve_quota_for_spawn()
        described = await self.describe()
        await self.prepare_mounts(described)
        created: dict[str, Any] = await self.docker(
            "create_container", **described.create_kwargs(self.client)
        )
        return created

    # -- the steps of the one start (:class:`~jhub_kit.spawners.kit.KitSpawner`) ------

    def begin_start(self) -> None:
        super().begin_start()
        self.pool_member = ""

    async def before_queue(self) -> None:
        image_option = (self.user_options or {}).get("image")
        if image_option:  # DockerSpawner does this in its start; the pool must know now
            self.image = await self.check_allowed(image_option)

    async def start_warm(self) -> tuple[str, int] | None:
        """A warm pool member that fits this user's server (:mod:`.pool`)."""
        assert self.quota is not None
        return await self.pool_part.try_start(self.quota)

    async def prepare_network(self) -> None:
        """Before a start (cold or pooled): the Hub URL the server is given, and the
        network's isolation rules (:class:`~jhub_kit.network.part.NetworkPart`)."""
        if self.network_name == "host":
            return
        part = NetworkPart(docker=self.docker, executor=self.executor, log=self.log)
        if self.hub_connect_auto:
            explicit = bool(
                self.hub_connect_url or self.hub.connect_ip or getattr(self.hub, "connect_url", "")
            )
            url = await part.hub_url(self.network_name, self.hub, explicit=explicit)
            if url:
                self.hub_connect_url = url

        async def configured_dns() -> list[str]:
            ehc = await self.evaluated_extra_host_config()
            return [str(a) for a in (ehc.get("dns") or [])]

        await part.isolate(
            self.network_name,
            on=self.network_isolation,
            hub_port=self.hub.port,
            allow=self.network_isolation_allow,
            configured_dns=configured_dns,
        )

    async def prepare_engine(self) -> None:
        if self.network_name == "host":
            self.ip = self.host_ip  # the free port is on the host's loopback
        await self.prepare_network()
        await self._drop_stale_container()

    async def clean_failed_start(self) -> None:
        """A start that failed leaves no container behind (with ``remove``): JupyterHub
        stops only servers that poll as running, so a dead one would stay until the
        user's next start."""
        if not (self.remove and self.object_id):
            return
        try:
            await self.remove_object()
        except Exception as e:
            self.log.warning("Could not remove %s after its failed start: %s", self.object_name, e)
        await self.pool_part.release(self.pool_member)
        self.object_id = ""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_part.wake_with_the_hub()  # a hub whose config did not call follow_hub()

    # -- the warm pool (the part: :mod:`.pool`) -----------------------------------------

    @property
    def pool_part(self) -> PoolPart:
        """This spawner's part of the warm pool, made the first time."""
        part: PoolPart | None = self.__dict__.get("_kit_pool_part")
        if part is None:
            part = self.__dict__["_kit_pool_part"] = PoolPart(self)
        return part

    @property
    def pool_on(self) -> bool:
        """Whether the hub keeps a warm pool (:attr:`PoolPart.on`)."""
        return self.pool_part.on

    @property
    def is_stand_in(self) -> bool:
        """Whether this spawner is the hub's stand-in for nobody (:mod:`jhub_kit.standin`)."""
        return is_stand_in(self.user)

    def warm_pool(self) -> WarmPool | None:
        """This hub's pool (one per hub, shared by every user's spawner); None if off."""
        return self.pool_part.warm_pool()

    async def running_pool(self, wanted: bool = False) -> WarmPool | None:
        """:meth:`warm_pool`, filling (:meth:`PoolPart.running_pool`)."""
        return await self.pool_part.running_pool(wanted)

    async def release_pool_member(self, member: str) -> None:
        """After pooled server ``member``'s container is gone: its slots unmounted and
        its directory removed ("": not a pooled server)."""
        await self.pool_part.release(member)

    def runs_in(self, member: Member | None, started: bool = True) -> None:
        """This server is pool member ``member`` (``started``: its container is this
        server's now, else only taken for it); None: it is no member, and a cold
        start has the usual name."""
        if member is None:
            self.object_id, self.object_name = "", self.default_object_name()
            self.pool_member = ""
            return
        self.pool_member = member.name
        if started:
            self.object_id, self.object_name = member.id, member.name

    @property
    def start_phases(self) -> dict[str, float]:
        """Seconds in each phase of the last start from the pool (admission, take,
        home, mounts, limits, network, hand-over, answering), for the log and benchmarks."""
        return self.pool_part.start_phases

    @property
    def start_marks(self) -> dict[str, float]:
        """When the last start from the pool began and ended (the monotonic clock)."""
        return self.pool_part.start_marks

    async def stop(self, now: bool = False) -> None:
        member = self.pool_member  # DockerSpawner's stop clears the state, this with it
        await super().stop(now)
        await self.pool_part.release(member)

    def clear_state(self) -> None:
        super().clear_state()
        if self.pool_member:  # the next start has the usual name, or another member's
            self.pool_member = ""
            self.object_name = self.default_object_name()

    async def _output_tail(self, lines: int = 15) -> str:
        """The last lines a stopped container printed (why it stopped), for the hub log."""
        if not self.container_id:
            return ""
        try:
            raw = await self.docker("logs", self.container_id, tail=lines)
        except Exception as e:  # gone already: the status says enough
            self.log.debug("No output of %s: %s", self.container_name, e)
            return ""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return "\n".join("    " + line for line in text.rstrip().splitlines()[-lines:])

    async def _drop_stale_container(self) -> None:
        """Remove a kept container (``remove = False``) whose limits differ from the quota."""
        if self.remove:
            return  # DockerSpawner removes any leftover container itself
        obj = await self.get_object()
        if not obj or self.quota is None:
            return
        ehc = await self.evaluated_extra_host_config()
        wanted = self.quota_limits(self.quota, ehc.get("cpu_period"))
        diffs = docker_limits.limits_differ(obj["HostConfig"], wanted)
        kept_image = (obj.get("Config") or {}).get("Image")
        if kept_image and kept_image != self.image:  # another profile's, or allowed image
            diffs.append(f"image {kept_image} -> {self.image}")
        if self.network_name == "host":
            diffs.append("host-network port")
        if self._course_mounts_differ(obj):
            diffs.append("course folders")
        if diffs:
            self.log.warning(
                "Recreating container %s for the new quota (%s)",
                self.container_name,
                "; ".join(diffs),
            )
            await self.remove_object()

    def _course_mounts_differ(self, obj: dict[str, Any]) -> bool:
        """Whether a kept container's course folders (and nbgrader mounts) are not this
        start's (a course joined or left, a role changed): it is made again, never
        restarted with them."""
        home = self.home_mount_target()
        places = [posixpath.join(home, p) for p in (FOLDER, KIT_DIR, STAFF_FOLDER)]
        kept = {
            (m.get("Destination"), m.get("Source"), not m.get("RW", True))
            for m in obj.get("Mounts") or []
            if any(inside(str(m.get("Destination") or ""), p) for p in places)
        }
        wanted = {(m["Target"], m["Source"], m["ReadOnly"]) for m in self.course_mounts()}
        return kept != wanted

    async def get_ip_and_port(self) -> tuple[str, int]:
        if self.network_name == "host":
            return self.host_ip, self.port
        return await super().get_ip_and_port()

    async def poll(self) -> Any:
        """Like DockerSpawner's, and reports out-of-memory kills to the admin.

        A kernel killed for using too much memory is logged (the server lives
        on); a server that died of it returns a status naming the limit.
        """
        container = await self.get_object()
        if not container:
            self.log.warning("Container not found: %s", self.container_name)
            return 0
        state = container["State"]
        # on the kit's own threads: the default executor may be busy with others' work
        kills = await asyncio.wrap_future(
            self.executor.submit(oom.read_oom_kills, self.container_id)
        )
        limit = format_size(self.quota.mem_limit if self.quota else None)
        if kills is not None and kills > self.oom_kills:
            self.log.warning(
                "%s: the kernel killed %d process(es) for exceeding the memory limit %s "
                "(%d in total); a notebook kernel probably died",
                self._log_name,
                kills - self.oom_kills,
                limit,
                kills,
            )
            metrics.count_oom(
                kills - self.oom_kills,
                self.user_groups(),
                [*self.quota_groups, *self.quota_ceiling_groups],
            )
            self.oom_kills = kills
            if state["Running"]:
                self._event(
                    f"A program in your server (probably a notebook kernel) used more than "
                    f"your memory limit of {limit} and was stopped; the server kept running."
                )
            self.save_state_now()
        if state["Running"]:
            await self.refresh_usage()
            return None
        if state.get("OOMKilled") or (kills and state.get("ExitCode") == 137):
            message = (
                f"OOMKilled: {self._log_name} ran out of memory (limit {limit}) and was stopped"
            )
            self.log.error(message)
            self._event(f"Your last server ran out of memory (limit {limit}) and was stopped.")
            self.save_state_now()
            return message
        return "ExitCode={ExitCode}, Error='{Error}', FinishedAt={FinishedAt}".format(**state)
