"""QuotaDockerSpawner: DockerSpawner with per-user and per-group quotas.

The quota is resolved on every spawn (defaults < groups < user) and applied to
the container's host config; a container whose limits no longer match the
quota is recreated, since Docker keeps a container's limits for its lifetime.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from docker.types import Mount
from jupyterhub.spawner import SpawnException
from jupyterhub.utils import random_port
from traitlets import Bool, Float, Int, List, TraitError, Unicode, Union, default, validate

from ..network import firewall, hardening
from ..network import hub_address as network
from ..network import watch as firewall_watch
from ..pool import members as pool_mod
from ..pool import schedule as pool_schedule
from ..pool.members import Member, WarmPool
from ..provision import HomeMount, ProvisionError, Usage
from ..quota import docker_limits
from ..quota.policy import Quota, build_quota, format_size, parse_partial
from ..quota.traits import QuotaConfigMixin
from ..views.student import student_view
from . import oom
from .adapter import DockerSpawnerAdapter
from .homes import HomesMixin
from .start_queue import StartQueueMixin

_WARNED: set[str] = set()
_POOLS: dict[tuple[Any, ...], WarmPool] = {}
_ISOLATED: set[firewall.Isolation] = set()


class QuotaDockerSpawner(QuotaConfigMixin, HomesMixin, StartQueueMixin, DockerSpawnerAdapter):
    """A DockerSpawner that enforces per-user and per-group quotas on every spawn.

    Configure defaults with the usual traits (``mem_limit``, ``cpu_limit``, plus
    ``swap_limit``, ``pids_limit``, ``disk_limit``), then raise or lower them for
    groups and users with :attr:`quota_groups`, :attr:`quota_users` or a
    :attr:`quota_policy_file` that can be edited while the hub runs.
    """

    # -- hardening -----------------------------------------------------------

    no_new_privileges = Bool(
        True,
        help="""Start servers with ``no-new-privileges``: a setuid binary (sudo, a
        planted copy of a shell) does not make its caller root. Turn off only for
        images whose users must ``sudo``. Example: ``False``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    cap_drop = List(
        Unicode(),
        default_value=["ALL"],
        help="""Linux capabilities removed from every server (Docker keeps 14 by
        default: NET_RAW, MKNOD, SETFCAP...). Example: ``[]`` for Docker's defaults.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    cap_add = Union(
        [List(Unicode()), Unicode()],
        default_value="auto",
        help="""Capabilities given back after :attr:`cap_drop`. ``"auto"``: none for
        an image that starts as a user (uid 1000), and CHOWN, DAC_OVERRIDE, FOWNER,
        SETUID, SETGID for one that starts as root and switches user (the Jupyter
        Docker Stacks with ``extra_create_kwargs = {"user": "root"}``).
        Example: ``["CHOWN", "SETUID", "SETGID"]``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    async def _starts_as_root(self) -> bool:
        kwargs = self._eval_if_callable(getattr(self, "extra_create_kwargs"))  # noqa: B009
        if inspect.isawaitable(kwargs):
            kwargs = await kwargs
        if isinstance(kwargs, dict) and "user" in kwargs:
            return hardening.starts_as_root(str(kwargs["user"]))
        image = await self.docker("inspect_image", self.image)
        return hardening.starts_as_root((image.get("Config") or {}).get("User"))

    async def _security_host_config(self) -> dict[str, Any]:
        cap_add = None if self.cap_add == "auto" else list(self.cap_add)
        return hardening.host_config_security(
            no_new_privileges=self.no_new_privileges,
            cap_drop=self.cap_drop,
            cap_add=cap_add,
            root_start=await self._starts_as_root() if cap_add is None else False,
        )

    # -- network -------------------------------------------------------------

    network_isolation = Bool(
        True,
        help="""On a bridge network, let servers open connections only to the Hub API
        and the internet: not to each other, not to the host's other services, not to
        the cloud metadata address or private ranges (see :mod:`jhub_kit.network.firewall`).

        Set up with iptables at the first spawn on a network, where the hub runs as
        root on the Docker host; elsewhere a warning says so and ``jhub-kit doctor``
        prints the rules to add. Example: ``False`` to manage the firewall yourself.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    network_isolation_allow = List(
        Unicode(),
        help="""Addresses (CIDR) in private ranges that servers may still reach, e.g. a
        campus package mirror or database. Example: ``["10.20.0.5/32"]``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    async def _isolate_network(self) -> None:
        if not self.network_isolation or self.network_name in ("host", "none"):
            return
        info = await self.docker("inspect_network", self.network_name)
        if info.get("Driver") != "bridge" or info.get("Name") == "bridge":
            self._warn_once(
                f"servers on network {self.network_name!r} are NOT isolated: the kit isolates "
                "its own user-defined bridge networks only (Docker's default bridge is shared "
                "with every other container); create one, e.g. `docker network create "
                "jupyterhub-network`, and set c.QuotaDockerSpawner.network_name"
            )
            return
        iso = firewall.Isolation(
            firewall.bridge_of(info), (self.hub.port,), tuple(self.network_isolation_allow)
        )
        facts = network.NetworkFacts.from_inspect(info)
        local = await asyncio.wrap_future(self.executor.submit(network.local_ipv4_addresses))
        if os.geteuid() != 0 or facts.gateway not in local:
            self._warn_once(
                f"servers on network {self.network_name!r} are NOT isolated from each other "
                "and the host's services: the kit sets this up only when the hub runs as root "
                "on the Docker host. Run `jhub-kit firewall watch --network "
                f"{self.network_name} --hub-container NAME` as root on the Docker host "
                "(`jhub-kit doctor` prints the rules)"
            )
            return
        if iso not in _ISOLATED or not await firewall.present(iso):
            try:
                # rules left for networks deleted since (by the kit or anyone): gone too
                networks = await self.docker("networks")
                for chain in await firewall.prune(firewall_watch.live_bridges(networks)):
                    self.log.info("Removed %s: its network no longer exists", chain)
                await firewall.apply(iso)
            except firewall.FirewallError as e:
                raise SpawnException(
                    "The server's network could not be secured; an administrator has been told.",
                    reason="network_isolation",
                    status_code=500,
                    log_message=str(e),
                ) from None
            _ISOLATED.add(iso)
            self.log.info("Network isolation set up: %s", firewall.describe(iso))

    def _warn_once(self, message: str) -> None:
        if message not in _WARNED:
            _WARNED.add(message)
            self.log.warning(message)

    hub_connect_auto = Bool(
        True,
        help="""Work out how containers reach the Hub API when nothing says so.

        On a bridge network, with ``JupyterHub.hub_connect_ip`` and
        ``Spawner.hub_connect_url`` unset and the Hub on this host listening on all
        interfaces, containers are pointed at the network's gateway address. If the
        Hub listens only on 127.0.0.1, which containers cannot reach, the spawn fails
        with a message saying what to set. Set to False to keep JupyterHub's default.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    docker_threads = Int(
        4,
        min=1,
        help="""Worker threads for Docker API calls, shared by all servers.

        DockerSpawner runs every Docker call of the hub through one thread, which
        serializes a classroom of simultaneous spawns. Example: ``8``.

        .. versionadded:: 0.1
        """,
    ).tag(config=True)

    @default("remove")
    def _remove_default(self) -> bool:
        # a fresh container at every start always carries the current quota;
        # homes live on persistent mounts, so nothing of the user's is lost
        return True

    @default("use_internal_ip")
    def _use_internal_ip_default(self) -> bool:
        return self.network_name == "host" or self.docker_default_use_ip()

    # -- executor ------------------------------------------------------------

    _kit_executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        cls = type(self)
        if cls._kit_executor is None:
            cls._kit_executor = ThreadPoolExecutor(
                self.docker_threads, thread_name_prefix="jhub-kit-docker"
            )
        return cls._kit_executor

    # -- warm pool -----------------------------------------------------------

    pool_size = Int(
        0,
        help="""Servers kept started ahead of time, each waiting for a student
        (:mod:`jhub_kit.pool.members`). A student whose start finds one ready gets it in
        about a second: their limits and home are applied to it, then their
        identity is handed over. None ready: the normal start, through the queue.
        The pool starts filling when the hub has started. 0 turns it off (unless
        ``pool_schedule`` is set); ``pool_schedule`` and ``jhub-kit pool fill``
        raise it for a class. Example: ``c.QuotaDockerSpawner.pool_size = 10``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_schedule = List(
        Unicode(),
        help="""Class times, when the pool holds more servers than ``pool_size``:
        entries ``"DAYS HH:MM-HH:MM SIZE"`` in the hub's local time. Days are
        ``mon`` .. ``sun``, lists (``mon,wed``), ranges (``mon-fri``) or
        ``daily``. Filling starts at the first time, so start a few minutes
        before the class (a member costs about 5 CPU-seconds of imports: 40 took
        99 s on 2 cores); idle members above the size are removed after the span.
        Example: ``["mon 08:50-10:30 40", "wed 13:20-15:00 25"]``.

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

    pool_max_age = Float(
        4 * 3600,
        help="""Seconds an unassigned pool member may wait before it is replaced by a
        new one (a fresh image, nothing long-lived). 0: no limit. Example: ``3600``.

        .. versionadded:: 0.3
        """,
    ).tag(config=True)

    pool_dir = Unicode(
        "/run/jhub-kit/pool",
        help="""Host directory for the pool members' channels and home mount points
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

    pool_member = ""
    """The pool member this server came from ("" for a cold start)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.pool_on and _in_a_running_hub():
            self.warm_pool()  # the hub's first spawner starts filling the pool

    @property
    def pool_on(self) -> bool:
        return self.pool_size > 0 or bool(self.pool_schedule)

    def warm_pool(self) -> WarmPool | None:
        """This hub's pool (shared by every user's spawner), kept filled; None if off."""
        if not self.pool_on:
            return None
        # one per hub configuration (a process may run several hubs: tests); the
        # config object is kept in the key's pool, so its id stays unique
        key = (type(self), id(self.config), self.prefix, self.image, self.network_name)
        if key not in _POOLS:
            _POOLS[key] = WarmPool(
                prefix=self.prefix,
                base=self.pool_dir,
                size=self.pool_size,
                max_age=self.pool_max_age,
                client=self.client,
                log=self.log,
                windows=pool_schedule.parse_schedule(self.pool_schedule),
            )
            _POOLS[key].config = self.config
        pool = _POOLS[key]
        pool.ensure_running(
            self._create_pool_member,
            lambda: self.start_gate().slot(owner="the warm pool"),
        )
        return pool

    def _member_quota(self) -> Quota:
        """Limits of a member before it is given out: the static defaults (never a
        user's: a callable default is skipped), at least 1G of memory."""
        static = {
            k: getattr(self, k)
            for k in ("mem_limit", "cpu_limit", "pids_limit")
            if not callable(getattr(self, k))
        }
        quota = build_quota([parse_partial(static, where="pool member")])
        if quota.mem_limit is None:
            quota = Quota(**{**quota.as_dict(), "mem_limit": 1024**3})
        return quota

    async def _create_pool_member(self, name: str, directory: Path) -> str:
        """Create and start one member (nothing of any user in it); its id."""
        ehc = getattr(self, "extra_host_config")  # noqa: B009 (untyped)
        if self.network_name == "host":
            network = {"network_mode": "host"}
        else:
            await self._isolate_network()
            network = {"network_mode": self.network_name}
        mounts = [
            Mount("/opt/jhub-kit/launcher.py", pool_mod.LAUNCHER, type="bind", read_only=True),
            Mount("/run/jhub-kit-pool", str(directory / "channel"), type="bind", read_only=True),
        ]
        if self.home_provisioner:  # else the image's own home, as for a cold start
            mounts.append(
                Mount(
                    self.home_mount_target(),
                    str(directory / "home"),
                    type="bind",
                    propagation="rslave",
                )
            )
        host_config = self.client.create_host_config(
            **{
                **await self._security_host_config(),
                **({} if callable(ehc) else ehc),
                **docker_limits.host_config_limits(self._member_quota()),
                **network,
                "mounts": mounts,
            }
        )
        container = await self.docker(
            "create_container",
            self.image,
            command=[self.pool_python, "/opt/jhub-kit/launcher.py"],
            name=name,
            labels={pool_mod.LABEL: self.prefix},
            host_config=host_config,
        )
        await self.docker("start", container["Id"])
        cid: str = container["Id"]
        return cid

    async def _start_from_pool(self, pool: WarmPool, member: Member) -> tuple[str, int]:
        """Give ``member`` to this user: limits, home, then the identity."""
        assert self.quota is not None
        self.pool_member = member.name
        self._emit(10, "A server is waiting for you in the warm pool")
        await self._provision_home()
        if self.home_mount is not None:
            source = self.home_mount.source
            if self.home_mount.type == "volume":
                source = (await self.docker("inspect_volume", source))["Mountpoint"]
            await pool.attach_home(member, source)
        period = (await self._extra_host_config()).get(
            "cpu_period", docker_limits.DEFAULT_CPU_PERIOD
        )
        body = pool_mod.update_body(self.quota, period)
        await asyncio.wrap_future(
            self.executor.submit(pool_mod.engine_update, self.client, member.id, body)
        )
        self.object_id, self.object_name = member.id, member.name
        if self.network_name == "host":
            self.ip = self.host_ip
            self.port = random_port()
        else:  # the Hub API's address on the member's network, as for a cold start
            url = await self._hub_connect_url()
            if url:
                self.hub_connect_url = url
        ip, port = await self.get_ip_and_port()
        prov = self.provisioner()
        uid, gid = (getattr(prov, "uid", 1000), getattr(prov, "gid", 100)) if prov else (1000, 100)
        identity = {"env": self.get_env(), "args": self.get_args()}
        pool.hand_over(member, identity, uid, gid)
        self._emit(70, "Your server from the warm pool is starting")
        await self._wait_until_answering(ip, port)
        pool.forget_identity(member.dir)
        self._emit(90, "Server is answering (it came from the warm pool)")
        return ip, port

    # -- Docker glue ---------------------------------------------------------

    def _wanted_limits(self, extra_host_config: dict[str, Any]) -> dict[str, Any]:
        assert self.quota is not None
        period = extra_host_config.get("cpu_period", docker_limits.DEFAULT_CPU_PERIOD)
        return docker_limits.host_config_limits(self.quota, cpu_period=period)

    async def _extra_host_config(self) -> dict[str, Any]:
        return await self.evaluated_extra_host_config()

    async def create_object(self) -> dict[str, Any]:
        # DockerSpawner reads mem_limit/cpu_limit itself; hand it the quota's
        # limits through the host config it merges last, so they win.
        user_ehc = await self._extra_host_config()
        wanted = self._wanted_limits(user_ehc)
        network = {"network_mode": "host"} if self.network_name == "host" else {}
        # DockerSpawner sets auto_remove=remove, which deletes a dead container
        # (and why it died) before poll() can look; stop() removes it instead.
        # the admin's extra_host_config may loosen the secure defaults; never the quota
        merged = {
            **await self._security_host_config(),
            **user_ehc,
            **wanted,
            **network,
            "auto_remove": False,
        }
        if self.home_mount is not None:
            target = self.home_mount_target()
            home = Mount(target, self.home_mount.source, type=self.home_mount.type)
            merged["mounts"] = [*self.mount_binds, home]
        return await self.create_with_host_config(merged)

    async def _hub_connect_url(self) -> str | None:
        """The Hub URL containers should use, when it must be worked out (see
        :mod:`jhub_kit.network.hub_address`: from the hub's own addresses and the network's)."""
        if not self.hub_connect_auto or self.network_name == "host":
            return None
        explicit = bool(
            self.hub_connect_url or self.hub.connect_ip or getattr(self.hub, "connect_url", "")
        )
        facts: network.NetworkFacts | None = None
        local: set[str] = set()
        if not explicit:
            local = await asyncio.wrap_future(self.executor.submit(network.local_ipv4_addresses))
            try:
                facts = network.NetworkFacts.from_inspect(
                    await self.docker("inspect_network", self.network_name)
                )
            except Exception as e:
                self.log.warning("Cannot inspect Docker network %r: %s", self.network_name, e)
        try:
            return network.hub_url_for_containers(
                hub_ip=self.hub.ip,
                hub_port=self.hub.port,
                network_name=self.network_name,
                explicit=explicit,
                local_addresses=local,
                network=facts,
            )
        except network.HubUnreachable as e:
            raise SpawnException(
                "The server cannot reach the Hub; an administrator must fix the configuration.",
                reason="hub_unreachable",
                status_code=500,
                log_message=str(e),
            ) from None

    async def start(self) -> tuple[str, int]:
        self._progress_events: list[dict[str, Any]] = []
        self.oom_kills = 0
        self.quota = await self.resolve_quota_for_spawn()
        self._emit(5, f"Quota: {self.quota.describe()}")
        self.pool_member = ""
        pool = self.warm_pool()
        member = pool.take() if pool is not None else None
        if pool is not None and member is not None:
            try:
                return await asyncio.wait_for(
                    self._start_from_pool(pool, member), self.startup_timeout
                )
            except Exception as e:  # a member that fails is removed; the start goes cold
                self.log.warning(
                    "%s: warm pool member %s failed (%s); starting cold",
                    self._log_name,
                    member.name,
                    e,
                )
                await pool.discard(member)
                self.object_id, self.object_name = "", self.default_object_name()
                self.pool_member = ""
        return await self.admitted(self._start_in_slot)

    async def stop(self, now: bool = False) -> None:
        member = self.pool_member
        await super().stop(now)
        if member:  # its container is gone: the mount point and channel go too
            await WarmPool.release_dir(Path(self.pool_dir), member, self.log)

    async def _start_in_slot(self) -> tuple[str, int]:
        await self._provision_home()
        await self._refresh_usage(force=True)
        if self.network_name == "host":
            # no port mapping in host mode: pick a free port on the host's loopback
            self.ip = self.host_ip
            self.port = random_port()
        else:
            url = await self._hub_connect_url()
            if url:
                self.hub_connect_url = url
            await self._isolate_network()
        await self._drop_stale_container()
        self._emit(50, "Starting container")
        ip, port = await super().start()
        self._emit(70, f"Container {self.container_name} started, waiting for the server")
        await self._wait_until_answering(ip, port)
        self._emit(90, "Server is answering")
        return ip, port

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
        """Remove a kept container whose limits differ from the current quota."""
        if self.remove:
            return  # DockerSpawner removes any leftover container itself
        obj = await self.get_object()
        if not obj:
            return
        wanted = self._wanted_limits(await self._extra_host_config())
        diffs = docker_limits.limits_differ(obj["HostConfig"], wanted)
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

    oom_kills = 0
    """Processes OOM-killed in the current container, as seen by :meth:`poll`."""

    last_event: dict[str, Any] | None = None
    """Why the last server (or a process in it) was stopped: shown to the student."""

    home_usage: Usage | None = None
    """The home's use when last measured (at start, then in poll every ``usage_interval``)."""

    usage_interval = Float(
        60,
        help="""Measure a running server's home at most this often (seconds), in
        poll; the student's pages and the class dashboard show the last measure.
        Cheap for loopfile, lvm and btrfs homes; ``directory`` homes are walked
        file by file. Example: ``c.QuotaDockerSpawner.usage_interval = 300``.""",
    ).tag(config=True)

    _usage_at = 0.0

    async def _refresh_usage(self, force: bool = False) -> None:
        prov = self.provisioner()
        now = asyncio.get_running_loop().time()
        if prov is None or (not force and now - self._usage_at < self.usage_interval):
            return
        self._usage_at = now
        try:
            self.home_usage = await prov.usage(self.user.name)
        except ProvisionError as e:
            self.log.warning("Could not measure the home of %s: %s", self.user.name, e)

    def student_view(self) -> dict[str, Any]:
        """What the hub's pages show this user (see :mod:`jhub_kit.views.student`)."""
        quota = self.quota or self.resolve_quota_now()
        return student_view(quota, self.home_usage, self.last_event)

    def _event(self, text: str) -> None:
        from datetime import datetime, timezone

        self.last_event = {"text": text, "at": datetime.now(timezone.utc).isoformat()}

    # -- state kept in the hub's database ------------------------------------

    def get_state(self) -> dict[str, Any]:
        """DockerSpawner's state plus the running server's quota, OOM count and home,
        so a hub restart keeps reporting them right."""
        state: dict[str, Any] = super().get_state()
        kit: dict[str, Any] = {}
        if self.object_id and self.quota is not None:
            kit = {
                "quota": self.quota.to_state(),
                "oom_kills": self.oom_kills,
                "home": None
                if self.home_mount is None
                else {"source": self.home_mount.source, "type": self.home_mount.type},
            }
        if self.object_id and self.pool_member:
            kit["pool_member"] = self.pool_member
        if self.last_event:  # kept after the server stops: the student is shown why
            kit["last_event"] = self.last_event
        # live only (the REST API reads get_state() with admin:server_state): the dashboard
        if self.queue_ahead is not None:
            kit["queue_ahead"] = self.queue_ahead
        if self.home_usage is not None:
            kit["home_usage"] = {"used": self.home_usage.used, "limit": self.home_usage.limit}
        if kit:
            state["jhub_kit"] = kit
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        kit = state.get("jhub_kit") or {}
        try:
            if kit.get("quota") is not None:
                self.quota = Quota.from_state(kit["quota"])
            self.oom_kills = int(kit.get("oom_kills", 0))
            event = kit.get("last_event")
            if isinstance(event, dict) and isinstance(event.get("text"), str):
                self.last_event = {"text": event["text"], "at": str(event.get("at", ""))}
            self.pool_member = str(kit.get("pool_member", ""))
            home = kit.get("home")
            if home:
                self.home_mount = HomeMount(str(home["source"]), str(home.get("type", "bind")))
        except (TypeError, ValueError, KeyError) as e:
            self.log.warning("Ignoring unreadable kit state of %s: %s", self._log_name, e)

    def _save_state(self) -> None:
        """Write the state to the hub's database now (JupyterHub saves it only at
        start and stop), so a hub restart does not report old OOM kills again."""
        from sqlalchemy.orm import object_session

        # the session the hub's own row lives in (Spawner.db is deprecated in JupyterHub 6)
        orm_spawner = getattr(self, "orm_spawner", None)
        db = object_session(orm_spawner) if orm_spawner is not None else None
        if orm_spawner is None or db is None:
            return
        try:
            orm_spawner.state = self.get_state()
            db.commit()
        except Exception as e:  # never break poll over bookkeeping
            self.log.warning("Could not save the state of %s: %s", self._log_name, e)
            db.rollback()

    def clear_state(self) -> None:
        super().clear_state()
        self.oom_kills = 0
        if self.pool_member:  # the next start has the usual name, or another member's
            self.pool_member = ""
            self.object_name = self.default_object_name()

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
            self.oom_kills = kills
            if state["Running"]:
                self._event(
                    f"A program in your server (probably a notebook kernel) used more than "
                    f"your memory limit of {limit} and was stopped; the server kept running."
                )
            self._save_state()
        if state["Running"]:
            await self._refresh_usage()
            return None
        if state.get("OOMKilled") or (kills and state.get("ExitCode") == 137):
            message = (
                f"OOMKilled: {self._log_name} ran out of memory (limit {limit}) and was stopped"
            )
            self.log.error(message)
            self._event(f"Your last server ran out of memory (limit {limit}) and was stopped.")
            self._save_state()
            return message
        return "ExitCode={ExitCode}, Error='{Error}', FinishedAt={FinishedAt}".format(**state)


def _in_a_running_hub() -> bool:
    """In the hub's process with its event loop running (not a CLI, config check or
    the dashboard service, which read the same config)."""
    from jupyterhub.app import JupyterHub

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return bool(JupyterHub.initialized())


async def wake_pool(app: Any) -> None:
    """Start the warm pool of a hub that serves, before anyone logs in.

    JupyterHub makes a user's spawner only when it needs one (a login, a running
    server), and the pool is kept by the hub's spawners; so this makes the
    spawner of the hub's first user (nothing is started for them: what the
    hub's pages do when they show a user), which starts the pool if
    ``pool_size`` or ``pool_schedule`` asks for one. A hub without users yet
    starts its pool at the first login.
    """
    from jupyterhub import orm

    spawner_class = getattr(app, "spawner_class", None)
    if not (isinstance(spawner_class, type) and issubclass(spawner_class, QuotaDockerSpawner)):
        return
    first = app.db.query(orm.User).order_by(orm.User.id).first()
    if first is not None:
        app.users[first].spawner  # noqa: B018 - making it starts the pool


def _is_the_hub_process() -> bool:
    """``jupyterhub`` (the command, or ``python -m jupyterhub``) runs this process."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return argv0.name == "jupyterhub" or argv0.parts[-2:] == ("jupyterhub", "__main__.py")


def _wake_pool_when_the_hub_runs(timeout: float = 3600) -> None:
    """JupyterHub has no startup hook for plugins, and imports its spawner class
    while it constructs itself (before its event loop exists). So in the hub's
    process a thread waits until the hub serves, then hands :func:`wake_pool`
    to the hub's loop (``IOLoop.add_callback`` is safe from another thread)."""
    from jupyterhub.app import JupyterHub

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app = JupyterHub.instance() if JupyterHub.initialized() else None
        loop = getattr(app, "io_loop", None)
        if loop is not None and getattr(app, "http_server", None) is not None:

            def wake(hub: Any = app) -> None:
                _WAKER.append(asyncio.create_task(wake_pool(hub)))

            loop.add_callback(wake)
            return
        time.sleep(0.5)


_WAKER: list[asyncio.Task[None]] = []
if _is_the_hub_process():
    threading.Thread(
        target=_wake_pool_when_the_hub_runs, name="jhub-kit-pool-waker", daemon=True
    ).start()
