"""QuotaDockerSpawner: DockerSpawner with per-user and per-group quotas.

A thin composition. Each start resolves the user's quota (:mod:`jhub_kit.quota`),
describes the user's server as data (:mod:`jhub_kit.spec`, one description for
every path), and then either gives the user a warm pool member that fits that
description (:mod:`jhub_kit.pool.mixin`) or creates exactly that description
cold, through the start queue (:mod:`.start_queue`). Homes come from
:mod:`.homes`, the network's secure defaults and isolation from
:mod:`jhub_kit.network.mixin`, and the record the views read from :mod:`.state`.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from docker.types import Mount
from jupyterhub.utils import random_port
from traitlets import Int

from .. import metrics
from ..compat import admin_must_fix
from ..hub_start import start_waker
from ..network.mixin import NetworkMixin
from ..pool.mixin import PoolMixin
from ..quota import docker_limits
from ..quota.policy import Quota, format_size
from ..quota.traits import QuotaConfigMixin
from ..spec import ServerSpec, SpecInputs, make_spec
from . import oom
from .adapter import DockerSpawnerAdapter
from .budget import BudgetMixin
from .homes import HomesMixin
from .profiles import ProfileMixin
from .singleuser import SingleUserOptionsMixin
from .start_queue import StartQueueMixin
from .state import KitStateMixin


class QuotaDockerSpawner(
    ProfileMixin,
    BudgetMixin,
    QuotaConfigMixin,
    SingleUserOptionsMixin,
    KitStateMixin,
    PoolMixin,
    NetworkMixin,
    HomesMixin,
    StartQueueMixin,
    DockerSpawnerAdapter,
):
    """A DockerSpawner that enforces per-user and per-group quotas on every spawn.

    Configure defaults with the usual traits (``mem_limit``, ``cpu_limit``, plus
    ``swap_limit``, ``pids_limit``, ``disk_limit``), then raise or lower them for
    groups and users with :attr:`quota_groups`, :attr:`quota_users` or a
    :attr:`quota_policy_file` that can be edited while the hub runs.
    """

    docker_threads = Int(
        4,
        min=1,
        help="""Worker threads for Docker API calls, shared by all servers.

        DockerSpawner runs every Docker call of the hub through one thread, which
        serializes a classroom of simultaneous spawns. Example: ``8``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    _kit_executor: ThreadPoolExecutor | None = None

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

    async def base_command(self) -> list[str]:
        """``cmd``, or the image's ``CMD`` (what DockerSpawner runs before the arguments)."""
        if self.cmd:
            return list(self.cmd)
        cmd = (await self.image_config()).get("Cmd")
        if not cmd:
            admin_must_fix(
                self.log,
                "Your server's image cannot start; an administrator must fix the hub's settings.",
                f"image {self.image} has no CMD: set c.{type(self).__name__}.cmd, "
                'e.g. ["jupyterhub-singleuser"]',
                reason="image_command",
            )
        return list(cmd)

    async def describe(
        self, *, home_target: str | None = None, identity: bool = True
    ) -> ServerSpec:
        """This user's server as data (:func:`jhub_kit.spec.make_spec`), from the
        options as they are now (after ``pre_spawn_hook`` and ``user_options``), the
        resolved quota, the home (or, before it is provisioned, a mount at
        ``home_target``), the network and the secure defaults. ``identity=False``
        leaves out the environment and arguments (what the pool's key ignores)."""
        ecc = await self.evaluated_extra_create_kwargs()
        ehc = await self.evaluated_extra_host_config()
        limits = {} if self.quota is None else self.quota_limits(self.quota, ehc.get("cpu_period"))
        home: dict[str, Any] | None = None
        if self.home_mount is not None:
            home = dict(
                Mount(self.home_mount_target(), self.home_mount.source, type=self.home_mount.type)
            )
        elif home_target:
            home = {"Target": home_target, "Source": "", "Type": "bind", "ReadOnly": False}
        user = ecc.get("user")
        inputs = SpecInputs(
            image=self.image,
            command=await self.base_command(),
            args=self.get_args() if identity else [],
            env=self.get_env() if identity else {},
            name=self.container_name if identity else "",
            port=self.port,
            network_name=self.network_name,
            use_internal_ip=self.use_internal_ip,
            host_ip=self.host_ip,
            remove=self.remove,
            volume_binds=self.volume_binds,
            mount_binds=[dict(m) for m in self.mount_binds],
            links=dict(self.links or {}),
            extra_create_kwargs=ecc,
            extra_host_config=ehc,
            security=await self.security_host_config(None if user is None else str(user)),
            limits=limits,
            home=home,
            internal_ssl=bool(self.internal_ssl),
            post_start_cmd=self.post_start_cmd,
            lab_extension_manager=self.lab_extension_manager,
            home_full=self.home_full_now(),
        )
        return make_spec(inputs)

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

    # -- the lifecycle -------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        self._progress_events: list[dict[str, Any]] = []
        self.oom_kills = 0
        self.forget_image()
        # the quota the budget admitted this start with, else resolved now
        self.quota = self.budget_quota() or await self.resolve_quota_for_spawn()
        self.show_quota(self.quota)
        self._emit(5, f"Quota: {self.quota.describe()}")
        self.pool_member = ""
        image_option = (self.user_options or {}).get("image")
        if image_option:  # DockerSpawner does this in its start; the pool must know now
            self.image = await self.check_allowed(image_option)
        try:
            started = await self.try_pool()
            if started is None:
                started = await self.admitted(self._start_in_slot)
        except BaseException:
            await self._remove_failed()
            raise
        self.server_started()
        return started

    async def _start_in_slot(self) -> tuple[str, int]:
        await self._provision_home()
        await self._refresh_usage(force=True)
        if self.network_name == "host":
            # no port mapping in host mode: pick a free port on the host's loopback
            self.ip = self.host_ip
            self.port = random_port()
        await self.prepare_network()
        await self._drop_stale_container()
        self._emit(50, "Starting container")
        ip, port = await super().start()
        self._emit(70, f"Container {self.container_name} started, waiting for the server")
        await self._wait_until_answering(ip, port)
        self._emit(90, "Server is answering")
        return ip, port

    async def _remove_failed(self) -> None:
        """A start that failed leaves no container behind (with ``remove``): JupyterHub
        stops only servers that poll as running, so a dead one would stay until the
        user's next start."""
        if not (self.remove and self.object_id):
            return
        try:
            await self.remove_object()
        except Exception as e:
            self.log.warning("Could not remove %s after its failed start: %s", self.object_name, e)
        await self.release_pool_member(self.pool_member)
        self.object_id = ""

    async def stop(self, now: bool = False) -> None:
        member = self.pool_member  # DockerSpawner's stop clears the state, this with it
        await super().stop(now)
        await self.release_pool_member(member)

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
        if diffs:
            self.log.warning(
                "Recreating container %s for the new quota (%s)",
                self.container_name,
                "; ".join(diffs),
            )
            await self.remove_object()

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
            await self._refresh_usage()
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


start_waker()  # in the `jupyterhub` process: the kit's start-up once the hub serves
