"""The one start of every kit spawner, read top to bottom.

:class:`KitSpawner` is what QuotaDockerSpawner and QuotaSwarmSpawner share: the
quota, the profile, the budget, the home, the start queue, the record the views
read, the secure defaults, one description of the server
(:func:`jhub_kit.spec.make_spec`) and one :meth:`KitSpawner.start`. As in
DockerSpawner's ``swarmspawner.py``, which changes the engine by overriding a few
small template methods (``object_type``, ``create_object``, ``start_object``) of
one ``start``, an engine's class overrides only the small steps below:

- :meth:`~KitSpawner.begin_start`: what the engine forgets of the last start;
- :meth:`~KitSpawner.before_queue`: what it checks or sets before the start queue;
- :meth:`~KitSpawner.start_warm`: a start from a warm server (None: start cold);
- :meth:`~KitSpawner.prepare_engine`: what it readies before the server is made;
- :meth:`~KitSpawner.started_message`: what the student reads once it runs;
- :meth:`~KitSpawner.engine_inputs`: what only this engine says of the server;
- :meth:`~KitSpawner.clean_failed_start`: what a failed start leaves to remove.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from docker.types import Mount
from jupyterhub.utils import AnyTimeoutError, maybe_future, random_port, wait_for_http_server

from .. import metrics, registry
from ..compat import SpawnException, admin_must_fix
from ..loop.admission import StartGate
from ..network.mixin import HardeningMixin
from ..provision import HomeProvisioner
from ..quota.budget import BudgetLedger
from ..quota.policy import Quota
from ..quota.traits import QuotaConfigMixin
from ..spec import (
    KitFolders,
    Mountpoint,
    ServerSpec,
    SpecInputs,
    extended_search_paths,
    image_search_paths,
    make_spec,
)
from .budget import BudgetPart
from .courses import CoursePart
from .homes import HomePart, HomesMixin, home_key, home_owner, shared_provisioner
from .profiles import ProfileMixin
from .singleuser import SingleUserOptionsMixin
from .start_queue import StartQueue, StartQueueMixin, hub_spawn_limit, short_start_timeout
from .state import KitStateMixin

T = TypeVar("T")


class KitSpawner(
    ProfileMixin,
    QuotaConfigMixin,
    SingleUserOptionsMixin,
    KitStateMixin,
    HomesMixin,
    StartQueueMixin,
    HardeningMixin,
):
    """The quota, profile, budget, home, queue and record of a kit spawner, and
    its one start; the engine's class below it (DockerSpawner's or SwarmSpawner's
    adapter) makes the server."""

    # -- before the start -----------------------------------------------------------

    async def run_pre_spawn_hook(self) -> Any:
        """Before JupyterHub calls :meth:`start`, in this order: the profile chosen
        (its image and overrides set: the admin's hook sees them), the admin's
        ``pre_spawn_hook``, then the user's budget, checked with the limits as the
        hook left them (and its place held until the server stops)."""
        await self.apply_profile()
        result = await maybe_future(super().run_pre_spawn_hook())
        await self.check_budget()
        return result

    # -- the budget (the part: :mod:`.budget`) -------------------------------------------

    @property
    def budget_part(self) -> BudgetPart:
        """This server's place in its user's budget, made the first time."""
        part: BudgetPart | None = self.__dict__.get("_kit_budget_part")
        if part is None:
            part = self.__dict__["_kit_budget_part"] = BudgetPart(self.budget_ledger())
        return part

    def budget_ledger(self) -> BudgetLedger:
        """The hub's reservations (one ledger per hub, shared by every user's spawner)."""
        ledger: BudgetLedger = registry.shared("budget-ledger", self.config, BudgetLedger)
        return ledger

    async def check_budget(self) -> None:
        """Admit this start against the user's budget (if one is configured) and
        hold its place, or refuse it with HTTP 400 naming how many servers the user
        really runs. The quota it is admitted with is the one the start runs with."""
        self.release_budget()  # an earlier start of this server that left one
        if self.budget_configured():
            quota = await self.resolve_quota_for_spawn()
            self.budget_part.admit(self, quota, self.log)

    def budget_quota(self) -> Quota | None:
        """The quota this start was admitted with (the start runs with it, so the
        ledger holds what the server gets), or None where no budget is configured."""
        return self.budget_part.quota

    def release_budget(self) -> None:
        """Give this server's place in the user's budget back (it stopped, or its
        start failed); nothing if it holds none."""
        self.budget_part.release(self.user.name, self.name)

    def clear_state(self) -> None:
        super().clear_state()
        self.release_budget()

    # -- the course folders (the part: :mod:`.courses`) --------------------------------

    @property
    def course_part(self) -> CoursePart:
        """This server's course folders, made the first time."""
        part: CoursePart | None = self.__dict__.get("_kit_course_part")
        if part is None:
            part = self.__dict__["_kit_course_part"] = CoursePart(self.config, self.log)
        return part

    async def provision_courses(self) -> None:
        """Make (or find) the folder of each course the user is in now, with the
        homes' kind of provisioner; mounted at ``<home>/courses/<name>``."""
        await self.course_part.make(
            self.user.name,
            self.user_groups(),
            self.home_mount_target(),
            self.home_provisioner,
            self.emit_progress,
        )

    def course_mounts(self) -> tuple[dict[str, Any], ...]:
        """The course folders' mounts in this server's description."""
        return tuple(
            self.course_part.mounts(self.user.name, self.user_groups(), self.home_mount_target())
        )

    def course_env(self) -> dict[str, str]:
        """The course members' environment in this server (nbgrader's)."""
        return self.course_part.env(self.user.name, self.user_groups(), self.home_mount_target())

    # -- the start ---------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        """Resolve the quota, then start from a warm server if one fits, else cold in
        a slot of the start queue; a failed start leaves nothing behind."""
        self.begin_start()
        # the quota the budget admitted this start with, else resolved now
        self.quota = self.budget_quota() or await self.resolve_quota_for_spawn()
        self.show_quota(self.quota)
        self.emit_progress(5, f"Quota: {self.quota.describe()}")
        await self.before_queue()
        try:
            started = await self.start_warm()
            if started is None:
                started = await self.start_queue().admit(self.start_cold)
        except BaseException:
            await self.clean_failed_start()
            raise
        self.server_started()
        return started

    async def start_cold(self) -> tuple[str, int]:
        """The start proper, in a slot of the start queue: the home, the engine's
        object made from this user's description and started, the server answering."""
        assert self.quota is not None
        await self.provision_home(self.quota, self.emit_progress)
        await self.provision_courses()
        await self.refresh_usage(force=True)
        if self.network_name == "host":
            # no port mapping on the host's network: a free port where the server runs
            self.port = random_port()
        await self.prepare_engine()
        self.emit_progress(50, f"Starting the {self.object_type}")
        ip, port = await super().start()  # DockerSpawner's: create_object, start_object
        self.emit_progress(70, self.started_message(ip))
        await self.wait_until_answering(ip, port)
        self.emit_progress(90, "Server is answering")
        return ip, port

    # -- the start queue (the part: :mod:`.start_queue`) --------------------------------

    def start_gate(self) -> StartGate:
        """The start queue's gate, shared by every server of this hub."""
        gate: StartGate = registry.shared(
            "start-gate",
            self.config,
            lambda: StartGate(self.concurrent_starts, self.start_queue_max),
            type(self),
            self.concurrent_starts,
            self.start_queue_max,
        )
        metrics.watch_queue(lambda: gate.queued)
        return gate

    def start_queue(self) -> StartQueue:
        """This start's way through the hub's start queue, with the options as they
        are now (a ``start_timeout`` that cuts the queue's short is said once)."""
        why = short_start_timeout(
            self.start_timeout, self.queue_timeout, self.start_after_queue_timeout
        )
        if why and not getattr(type(self), "_warned_timeout", False):
            type(self)._warned_timeout = True
            self.log.warning(why)
        return StartQueue(
            self.start_gate(),
            owner=self._log_name,
            spawner_class=type(self).__name__,
            queue_timeout=self.queue_timeout,
            after_queue_timeout=self.start_after_queue_timeout,
            progress=self.emit_progress,
            place=self.in_line,
            log=self.log,
        )

    async def admitted(self, body: Callable[[], Awaitable[T]]) -> T:
        """Deprecated since 0.5: ``start_queue().admit(body)``."""
        warnings.warn(
            "KitSpawner.admitted(body) is deprecated since 0.5: use start_queue().admit(body)",
            DeprecationWarning,
            stacklevel=2,
        )
        return await self.start_queue().admit(body)

    def hub_concurrent_spawn_limit(self) -> int:
        """Deprecated since 0.5: ``jhub_kit.spawners.start_queue.hub_spawn_limit(config)``."""
        warnings.warn(
            "KitSpawner.hub_concurrent_spawn_limit() is deprecated since 0.5: use "
            "jhub_kit.spawners.start_queue.hub_spawn_limit(spawner.config)",
            DeprecationWarning,
            stacklevel=2,
        )
        return hub_spawn_limit(self.config)

    def in_line(self, ahead: int | None) -> None:
        """Record how many starts are ahead of this one in the queue (None: not in line)."""
        self.queue_ahead = ahead

    async def wait_until_answering(self, ip: str, port: int) -> None:
        """Hold the start slot until the server answers HTTP: that is where the CPU goes."""
        if self.internal_ssl or self.server is None:
            return  # the hub's own check (with its certificates) does it
        url = f"http://{ip}:{port}{self.server.base_url}"
        while True:
            try:
                await wait_for_http_server(url, timeout=2)
                return
            except AnyTimeoutError:  # before Python 3.11 asyncio's is not the builtin
                status = await self.poll()
                if status is not None:
                    tail = await self._output_tail()
                    raise SpawnException(
                        "Your server stopped while starting.",
                        reason="stopped_while_starting",
                        status_code=500,
                        log_message=f"{self._log_name} stopped while starting: {status}"
                        + (f"; its last output:\n{tail}" if tail else ""),
                    ) from None

    async def _output_tail(self, lines: int = 15) -> str:
        """The last lines a stopped server printed, for the hub log ("" if unknown)."""
        return ""

    @property
    def log_name(self) -> str:
        """How the log names this server (the user's, and its name if it has one)."""
        return f"{self.user.name}'s server" + (f" {self.name!r}" if self.name else "")

    @property
    def _log_name(self) -> str:  # DockerSpawner's name for it, which its own code reads
        return self.log_name

    # -- progress ------------------------------------------------------------

    _progress_events: list[dict[str, Any]]

    def emit_progress(self, progress: int, message: str) -> None:
        """Tell the student how the start goes (the callback the parts are given)."""
        self.log.info("%s: %s", self._log_name, message)
        self._progress_events.append({"progress": progress, "message": message})

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        sent = 0
        while True:
            events = getattr(self, "_progress_events", [])
            while sent < len(events):
                yield events[sent]
                sent += 1
            await asyncio.sleep(0.2)

    # -- the home (the part: :mod:`.homes`) -------------------------------------------

    def home_key(self) -> str:
        """What the provisioner keeps this server's home under: the user's name, or
        ``USER/SERVER`` for a named server with :attr:`home_per_server`."""
        return home_key(str(self.user.name), self.name, self.home_per_server)

    def provisioner(self) -> HomeProvisioner | None:
        """The configured provisioner, shared by every user's spawner (one lock per user)."""
        return shared_provisioner(self.home_provisioner, self.config, self.log, lambda: self.client)

    def home_owner(self) -> tuple[int, int]:
        """The uid and gid the home belongs to (the provisioner's; 1000:100 without one).
        Read from the configuration: no engine or disk is touched."""
        return home_owner(self.home_provisioner, self.config)

    def home_mount_target(self) -> str:
        """Where the home is mounted in the server."""
        return self.home_target or self.notebook_dir or "/home/jovyan"

    def home_part(self) -> HomePart:
        """This server's home as a part, given the provisioner and the home as
        recorded now; :meth:`keep_home` takes back what it found."""
        return HomePart(
            provisioner=self.provisioner(),
            key=self.home_key(),
            user=str(self.user.name),
            mount=self.home_mount,
            usage=self.home_usage,
            image=self.image,
            docker=self.docker,
            client=self.client,
            log=self.log,
        )

    def keep_home(self, home: HomePart) -> None:
        """Record the home as ``home`` left it (its mount, its last measure)."""
        self.home_mount, self.home_usage = home.mount, home.usage

    async def provision_home(self, quota: Quota, progress: Callable[[int, str], None]) -> None:
        """Make (or find) this server's home, sized by ``quota``'s ``disk_limit``, and
        measure it (:meth:`HomePart.provision`); ``progress`` tells the student."""
        if self.home_provisioner is None:
            return
        home = self.home_part()
        try:
            await home.provision(quota, progress)
        finally:
            self.keep_home(home)

    _usage_at = 0.0

    async def refresh_usage(self, force: bool = False) -> None:
        """Measure the home now (``force``) or when ``usage_interval`` has passed."""
        now = asyncio.get_running_loop().time()
        if self.home_provisioner is None or (
            not force and now - self._usage_at < self.usage_interval
        ):
            return
        self._usage_at = now
        home = self.home_part()
        await home.measure()
        self.home_usage = home.usage  # only the measure: a start may have moved the home since

    def home_full_now(self) -> str:
        """Why this server's home has no room left, as last measured (``"space"``,
        ``"files"``), or "" (room left, not measured, or the notice is off)."""
        usage = self.home_usage
        if not self.home_full_notice or self.home_mount is None or usage is None:
            return ""
        return usage.full

    async def host_path(self, m: Mountpoint, image: str = "") -> str:
        """Where mount ``m``'s content is on this host (:meth:`HomePart.host_path`)."""
        return await self.home_part().host_path(m, image)

    async def prepare_mounts(self, described: ServerSpec) -> None:
        """Ready the mounts beside the home before a start (:meth:`HomePart.prepare_mounts`)."""
        await self.home_part().prepare_mounts(described)

    # -- the template methods an engine overrides ------------------------------------

    def begin_start(self) -> None:
        """Forget what the last start left (its progress, its image's settings)."""
        self._progress_events = []
        self.oom_kills = 0
        self.forget_image()
        self.course_part.forget()

    async def before_queue(self) -> None:
        """Checks and settings of the engine's, before the start waits in line."""

    async def start_warm(self) -> tuple[str, int] | None:
        """Start from a server made ahead of time; None: start cold (the default)."""
        return None

    async def prepare_engine(self) -> None:
        """What the engine readies before the server is made (nothing by default)."""

    def started_message(self, ip: str) -> str:
        """The progress message once the engine runs the server."""
        return f"The {self.object_type} {self.object_name} started, waiting for the server"

    async def clean_failed_start(self) -> None:
        """Remove what a failed start left behind (nothing by default)."""

    # -- the description ---------------------------------------------------------

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
        ``home_target``), the network and the secure defaults; and what only the
        engine says (:meth:`engine_inputs`). ``identity=False`` leaves out the
        environment and arguments (what the pool's key ignores)."""
        engine = await self.engine_inputs()  # first: it evaluates the callables
        courses_env = self.course_env() if identity else {}
        folders = await self.kit_folders_here()
        lab_notices = bool(self.lab_notices) and folders.lab
        inputs = SpecInputs(
            image=self.image,
            command=await self.base_command(),
            args=self.get_args() if identity else [],
            env=self.get_env() if identity else {},
            name=self.object_name if identity else "",
            port=self.port,
            network_name=self.network_name,
            host_ip=self.host_ip,
            home=self.home_input(home_target),
            courses=self.course_mounts(),
            courses_env=courses_env,
            image_env=await self.image_search_paths(
                extended_search_paths(courses_env, lab_notices and identity)
            ),
            internal_ssl=bool(self.internal_ssl),
            lab_extension_manager=self.lab_extension_manager,
            lab_notices=lab_notices,
            kit_folders=folders,
            **engine,
        )
        return make_spec(inputs)

    async def kit_folders_here(self) -> KitFolders:
        """Which of the kit's own folders this engine's servers can have bound
        (:class:`~jhub_kit.spec.KitFolders`: the notice of a full home, the JupyterLab
        extension); by default both. Every start and every pool member is described
        from this one answer."""
        return KitFolders()

    async def image_search_paths(self, extended: set[str]) -> dict[str, str]:
        """The image's own values of the search paths the description extends (none
        asked of the engine when it extends none): :meth:`image_config`, read once per
        start through the spawner's executor, never on the hub's loop."""
        if not extended:
            return {}
        return image_search_paths((await self.image_config()).get("Env"))

    def home_input(self, home_target: str | None = None) -> dict[str, Any] | None:
        """The home's mount in a description: the provisioned home, else (before it is
        provisioned) an empty bind at ``home_target``, else none."""
        if self.home_mount is not None:
            return dict(
                Mount(self.home_mount_target(), self.home_mount.source, type=self.home_mount.type)
            )
        if home_target:
            return {"Target": home_target, "Source": "", "Type": "bind", "ReadOnly": False}
        return None

    async def engine_inputs(self) -> dict[str, Any]:
        """The :class:`~jhub_kit.spec.SpecInputs` only this engine knows (how the hub
        reaches the server, its mounts, its host config, its limits...)."""
        return {
            "use_internal_ip": self.use_internal_ip,
            "remove": self.remove,
            "security": await self.security_host_config(),
        }
