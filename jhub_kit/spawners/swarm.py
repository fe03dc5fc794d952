"""QuotaSwarmSpawner: dockerspawner's SwarmSpawner with the kit's quota policy.

The same quota vocabulary as :class:`~jhub_kit.QuotaDockerSpawner`
(``mem_limit``, ``cpu_limit``, ``pids_limit``, ``quota_groups``,
``quota_users``, ``quota_policy_file``), resolved at every spawn and applied to
the service (:mod:`jhub_kit.quota.swarm_limits`: memory and CPU limits and
reservations, PIDs; a service cannot turn swap off)::

    c.JupyterHub.spawner_class = "jhub_kit.QuotaSwarmSpawner"
    c.QuotaSwarmSpawner.network_name = "host"   # or an overlay network the hub is on

Besides quotas, against stock SwarmSpawner:

- QuotaDockerSpawner's secure defaults (``no_new_privileges``, ``cap_drop``,
  ``cap_add``) in the service's container spec; an engine older than API 1.44
  (Docker 25) cannot set ``no-new-privileges`` on a service, and the hub log
  says once what to do (the nodes' ``daemon.json``);
- the task is watched every half second (SwarmSpawner backs off to 11 s steps);
- a task the scheduler rejects (no node has the memory, CPUs or labels asked
  for) fails the spawn at once with the scheduler's reason in the log and plain
  words for the student, instead of waiting for the start to time out;
- a group or user pinned to nodes by label (``node_labels`` in the same
  policy) gets placement constraints;
- a server whose node is drained or lost is reported stopped at the next poll
  (not moved to another node behind the hub), while an unreachable manager
  (its engine restarting) stops no one;
- ``network_name = "host"``: the server listens on a free port of the node it
  was placed on, and the hub connects to that node's address;
- stopping a server removes its service (``remove`` defaults to True: SwarmSpawner
  has no stop of its own, so with False a "stopped" server kept running), and a
  server that exits is not restarted by the swarm behind the hub's back (restart
  condition ``none``): the hub reports it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import docker
import requests
from traitlets import Dict, Float, Unicode

from .. import registry
from ..compat import SpawnException, admin_must_fix
from ..provision.dockervolume import DockerVolumeProvisioner
from ..quota.policy import format_size
from ..quota.swarm_limits import (
    not_enforced,
    placement_constraints,
    service_resources,
    swarm_start_limit,
)
from ..spec import KitFolders, service_kwargs, service_refusals, service_security
from . import oom
from .adapter import SwarmSpawnerAdapter
from .kit import KitSpawner


@dataclass
class SwarmSeen:
    """What this process has seen of one swarm's manager, shared by every spawner
    that uses it (:func:`seen`)."""

    #: (when listed, the nodes by ID): one listing shared by every poll for a moment
    nodes: tuple[float, dict[str, dict[str, Any]]] | None = None
    #: when the manager last failed to answer
    manager_away: float | None = None
    #: since when each node (by ID) is down
    down_since: dict[str, float] = field(default_factory=dict)
    #: the secure defaults this engine cannot set, warned about once
    security_warned: set[str] = field(default_factory=set)
    #: whether the missing JupyterLab notices were said (once)
    lab_notices_said: bool = False


def seen(engine_key: str) -> SwarmSeen:
    """What this process has seen of the swarm whose manager is ``engine_key``."""
    found: SwarmSeen = registry.shared("swarm-seen", None, SwarmSeen, engine_key)
    return found


#: task states on the way to running
_STARTING = {
    "new",
    "allocated",
    "pending",
    "assigned",
    "accepted",
    "preparing",
    "ready",
    "starting",
}


class QuotaSwarmSpawner(KitSpawner, SwarmSpawnerAdapter):
    """A SwarmSpawner that enforces per-user and per-group quotas on every spawn."""

    poll_task_interval = 0.5
    """Seconds between looks at a starting task."""

    lost_node_grace = Float(
        10,
        help="""Seconds a node must stay down (and the manager answering) before its
        servers are reported stopped. A manager that has just restarted marks nodes
        down until they reconnect; a server there is still running. Example: ``30``.

        .. versionadded:: 0.2
        """,
    ).tag(config=True)

    node_engines = Dict(
        Unicode(),
        help="""The Docker engine of each node, for what only a node knows: the memory
        and CPU a server uses now (its stats), shown to teachers on the class
        dashboard. Keys are node IDs, hostnames or addresses; values engine URLs,
        reached with this spawner's ``tls_config``. Nodes not listed (and none, by
        default) show no live memory or CPU. Example::

            c.QuotaSwarmSpawner.node_engines = {"10.0.0.11": "tcp://10.0.0.11:2376"}

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    node_engine_url = Unicode(
        "",
        help="""A template for the engine URL of a node not in :attr:`node_engines`,
        with ``{addr}``, ``{hostname}`` and ``{node_id}``. Example:
        ``"tcp://{addr}:2376"``.

        .. versionadded:: 0.4
        """,
    ).tag(config=True)

    nodes_cache_seconds = 2.0
    """How long one listing of the swarm's nodes serves every user's poll."""

    task_id: str = ""
    """The task the server runs in; another task of the service is not this server."""

    lost_reason: str | int | None = None
    """Why the last poll found the server stopped (its service is then removed)."""

    def _engine_kwargs(self) -> dict[str, Any]:
        from docker.utils import kwargs_from_env

        kwargs: dict[str, Any] = {"version": "auto"}
        if self.tls_config:
            kwargs["tls"] = docker.tls.TLSConfig(**self.tls_config)
        kwargs.update(kwargs_from_env())
        kwargs.update(self.client_kwargs)
        return kwargs

    _engine_key_value = ""

    @property
    def _engine_key(self) -> str:
        """Names this spawner's engine; worked out once (read at every Docker call)."""
        if not self._engine_key_value:
            kwargs = self._engine_kwargs()
            self._engine_key_value = repr(sorted((k, repr(v)) for k, v in kwargs.items()))
        return self._engine_key_value

    @property
    def client(self) -> Any:
        """A Docker client for this spawner's engine (``client_kwargs``, TLS, environment).

        DockerSpawner keeps one client per class, read through inheritance: once a
        DockerSpawner in the same process made one (for the local engine), a
        SwarmSpawner used it, and asked a non-manager for services. One client per
        engine instead."""
        client = registry.shared(
            "docker-client",
            None,
            lambda: docker.APIClient(**self._engine_kwargs()),
            self._engine_key,
        )
        return client

    # -- the steps of the one start (:class:`~jhub_kit.spawners.kit.KitSpawner`) ------

    def begin_start(self) -> None:
        super().begin_start()
        self.task_id = ""
        self.lost_reason = None
        self.live = None

    async def before_queue(self) -> None:
        """What a service cannot do is said (the log) or refused (a home only one
        engine has) before the start waits in line; the queue's width is the swarm's."""
        assert self.quota is not None
        for gap in not_enforced(self.quota):
            self.log.info("Quota of %s on a swarm: %s", self.user.name, gap)
        if isinstance(self.provisioner(), DockerVolumeProvisioner):
            admin_must_fix(
                self.log,
                "Your home cannot be prepared; an administrator must fix the hub's settings.",
                "home_provisioner 'docker-volume' makes volumes on one engine, and a swarm "
                "runs servers on other nodes: use 'directory', 'btrfs' or 'loopfile' with "
                "HomeProvisioner.base_dir on a share mounted at the same path on every node",
                reason="home",
            )
        if not self._configured("concurrent_starts"):
            # the swarm's cores, not the hub's: one start per core in flight
            with contextlib.suppress(requests.exceptions.ConnectionError, docker.errors.APIError):
                self.start_gate().set_limit(swarm_start_limit((await self._nodes()).values()))

    def started_message(self, ip: str) -> str:
        return f"Running on the node at {ip}, waiting for the server"

    async def base_command(self) -> list[str]:
        """``cmd``, or the image's ``CMD`` (none: the service runs the image's own)."""
        return list(self.cmd or []) or list((await self.image_config()).get("Cmd") or [])

    async def engine_inputs(self) -> dict[str, Any]:
        """SwarmSpawner's mounts (``volumes``, bound on the node that runs the task);
        ``extra_create_kwargs`` are the service's keywords here, as in SwarmSpawner,
        and the quota is the service's resources (:meth:`create_object`)."""
        return {
            "use_internal_ip": True,  # published ports are the service's endpoint
            "remove": True,
            "mount_binds": [dict(m) for m in super().mounts],
            "extra_host_config": dict(self.extra_host_config or {}),
            "security": await self.security_host_config(),
        }

    async def kit_folders_here(self) -> KitFolders:
        """Neither on a swarm: the kit's folders are on the hub's host, a bind mount of
        them does not exist on the other nodes (no JupyterLab notices, said once: the
        hub page still warns; a full home's notice is not opened on a swarm anyway)."""
        if self.lab_notices and not seen(self._engine_key).lab_notices_said:
            seen(self._engine_key).lab_notices_said = True
            self.log.warning(
                "Servers on this swarm get no JupyterLab notices (lab_notices): the kit's "
                "extension is a folder of the hub's host, not on the other nodes; the "
                "students' hub pages still warn before an idle cull. Set "
                "c.QuotaSwarmSpawner.lab_notices = False to silence this."
            )
        return KitFolders(notices=False, lab=False)

    async def _create_user(self) -> str | None:
        """The container spec's ``user``, if the config sets one (a service's
        ``extra_create_kwargs`` are the service's keywords)."""
        user = (self.extra_container_spec or {}).get("user")
        return None if user is None else str(user)

    def _configured(self, name: str) -> bool:
        """Whether the config sets trait ``name`` for this class or a base."""
        return any(
            cls.__name__ in self.config and name in self.config[cls.__name__]
            for cls in type(self).mro()
        )

    async def create_object(self) -> Any:
        """The service of this user's description, with the resolved quota as its
        resources and placement; a description a service cannot express is refused."""
        if self.quota is None:
            self.quota = await self.resolve_quota_for_spawn()
        described = await self.describe()
        why = service_refusals(described)
        if why:
            admin_must_fix(
                self.log,
                "Your server cannot be started on the cluster; an administrator must fix "
                "the hub's settings.",
                f"{self._log_name}: not expressible as a swarm service: " + "; ".join(why),
                reason="swarm_unsupported",
            )
        api_version = str(self.client.api_version)
        for gap in service_security(described.host_config, api_version)[1]:
            warned = seen(self._engine_key).security_warned
            if gap not in warned:
                warned.add(gap)
                self.log.warning("Servers on this swarm start without %s", gap)
        kwargs = service_kwargs(
            described,
            api_version=api_version,
            name=self.service_name,
            resources=service_resources(self.quota, self.extra_resources_spec),
            constraints=placement_constraints(self.quota),
            use_internal_ip=self.use_internal_ip,
            port=self.port,
            extra_container_spec=self.extra_container_spec,
            extra_task_spec=self.extra_task_spec,
            extra_placement_spec=self.extra_placement_spec,
            extra_endpoint_spec=self.extra_endpoint_spec,
            extra_create_kwargs=self.extra_create_kwargs,
        )
        service = await self.docker("create_service", **kwargs)
        while not await self.docker("tasks", filters={"service": self.service_name}):
            await asyncio.sleep(0.2)
        return service

    async def start_object(self) -> None:
        """Wait for the task to run; a rejected task fails at once with its reason."""
        while True:
            task = await self.get_task()
            if not task:
                raise SpawnException(
                    "Your server could not be created.",
                    reason="swarm_task_missing",
                    status_code=500,
                    log_message=f"Service {self.service_name} has no task",
                )
            status = task["Status"]
            state = status["State"].lower()
            if state == "running":
                self.task_id = task["ID"]
                return
            err = status.get("Err", "")
            exit_code = (status.get("ContainerStatus") or {}).get("ExitCode")
            if state == "failed" and exit_code not in (None, 0):  # it ran, and died
                why = self._ran_out_of_memory() if exit_code == 137 else f"task failed: {err}"
                raise SpawnException(
                    "Your server stopped while starting.",
                    reason="stopped_while_starting",
                    status_code=500,
                    log_message=f"{self._log_name} stopped while starting: {why}",
                )
            if state in ("rejected", "failed") or (state == "pending" and _unschedulable(err)):
                raise SpawnException(
                    self._unschedulable_message(err),
                    reason="swarm_unschedulable",
                    status_code=503,
                    log_message=(
                        f"Service {self.service_name} task {state}: "
                        f"{err or status.get('Message') or 'no reason given'}"
                    ),
                )
            if state not in _STARTING:
                raise SpawnException(
                    "Your server stopped while starting.",
                    reason="stopped_while_starting",
                    status_code=500,
                    log_message=f"Service {self.service_name} task {state}: {status}",
                )
            await asyncio.sleep(self.poll_task_interval)

    def _unschedulable_message(self, err: str) -> str:
        labels = self.quota.node_labels if self.quota else ()
        if "constraints" in err and labels:
            kind = ", ".join(f"{k}={v}" for k, v in labels)
            return (
                f"No machine in the cluster of the kind your server runs on ({kind}) "
                "can take it right now. Tell your teacher."
            )
        return (
            "No machine in the cluster can take your server right now "
            "(not enough free memory or CPUs). Try again later, or tell your teacher."
        )

    async def get_ip_and_port(self) -> tuple[str, int]:
        if self.network_name != "host":
            result: tuple[str, int] = await super().get_ip_and_port()
            return result
        task = await self.get_task()
        if not task or not task.get("NodeID"):
            raise SpawnException(
                "Your server could not be found.",
                reason="swarm_task_missing",
                status_code=500,
                log_message=f"Service {self.service_name}: no task with a node",
            )
        node = await self.docker("inspect_node", task["NodeID"])
        return node["Status"]["Addr"], self.port

    # -- after the start -------------------------------------------------------

    async def _nodes(self) -> dict[str, dict[str, Any]]:
        """The swarm's nodes by ID, one listing shared by every poll for a moment."""
        swarm = seen(self._engine_key)
        cached = swarm.nodes
        if cached is None or time.monotonic() - cached[0] > self.nodes_cache_seconds:
            nodes = await self.docker("nodes")
            cached = swarm.nodes = (time.monotonic(), {n["ID"]: n for n in nodes})
        return cached[1]

    async def poll(self) -> Any:
        """None while the server runs; else a status, and its service is removed
        (with ``remove``): JupyterHub stops only servers that poll as running, and a
        service left behind would start its task again when a lost node returns."""
        if self.lost_reason:
            return self.lost_reason  # the hub polls again before it stops the server
        status = await self._poll_task()
        if status is None and self._task is not None:
            await self.refresh_usage()
            await self._read_live(self._task)
        if status is not None and self.remove and self.object_id:
            self.lost_reason = status
            try:
                await self.remove_object()
            except docker.errors.NotFound:
                pass
            except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
                self.log.warning("Service %s not removed yet: %s", self.service_name, e)
        return status

    async def _poll_task(self) -> Any:
        """None while the server's task runs on a ready, active node.

        Stopped (a status) when the task ended, when its node is drained or down
        (its server is gone or going; the swarm is not allowed to move it to
        another address behind the hub), or when the service now runs another task.
        A manager that does not answer (its engine restarting, no leader yet) is
        not a stopped server: None, and a warning."""
        try:
            task = await self.get_task()
            if not task:
                self.log.warning("Service %s not found", self.service_name)
                return 0
            self._task = task
            status = task["Status"]
            state = status["State"].lower()
            if state != "running" and state not in _STARTING:
                if (status.get("ContainerStatus") or {}).get("ExitCode") == 137:
                    return self._ran_out_of_memory()
                return f"task {state}: {status.get('Err') or status.get('Message', '')}"
            if self.task_id and task["ID"] != self.task_id:
                return f"task {self.task_id[:12]} is gone (the service now runs {task['ID'][:12]})"
            node = (await self._nodes()).get(task.get("NodeID", ""))
        except (requests.exceptions.ConnectionError, docker.errors.DockerException) as e:
            if isinstance(e, docker.errors.APIError) and not e.is_server_error():
                raise
            seen(self._engine_key).manager_away = time.monotonic()
            self.log.warning(
                "Swarm manager not answering while checking %s (%s); assuming it still runs",
                self.service_name,
                e,
            )
            return None
        if node is None:
            return None if not task.get("NodeID") else f"node {task['NodeID'][:12]} left the swarm"
        name = f"{node.get('Description', {}).get('Hostname', '')} ({node['Status'].get('Addr')})"
        state = node["Status"]["State"]
        swarm = seen(self._engine_key)
        if state in ("down", "disconnected"):
            now = time.monotonic()
            since = swarm.down_since.setdefault(node["ID"], now)
            if node_lost(since, swarm.manager_away, now, self.lost_node_grace):
                return f"node {name} is {state}: the server stopped with it"
            return None
        swarm.down_since.pop(node["ID"], None)
        # "unknown": a manager that just restarted has not heard from the node yet
        if node["Spec"].get("Availability") == "drain":
            return f"node {name} was drained: the server was stopped"
        return None

    _task: dict[str, Any] | None = None

    def _ran_out_of_memory(self) -> str:
        limit = format_size(self.quota.mem_limit if self.quota else None)
        message = f"OOMKilled: {self._log_name} ran out of memory (limit {limit}) and was stopped"
        self.log.error(message)
        self._event(f"Your last server ran out of memory (limit {limit}) and was stopped.")
        self.save_state_now()
        return message

    def node_engine(self, node: dict[str, Any]) -> str:
        """The engine URL of ``node`` (:attr:`node_engines`, :attr:`node_engine_url`), or ""."""
        ids = {
            "node_id": node.get("ID", ""),
            "hostname": (node.get("Description") or {}).get("Hostname", ""),
            "addr": (node.get("Status") or {}).get("Addr", ""),
        }
        for value in ids.values():
            if value and value in self.node_engines:
                return str(self.node_engines[value])
        return self.node_engine_url.format(**ids) if self.node_engine_url else ""

    async def _read_live(self, task: dict[str, Any]) -> None:
        """Memory and CPU in use, from the stats of the node's engine (kept in the
        state for the dashboard); nothing when the node's engine is not configured."""
        cid = ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
        node = (await self._nodes()).get(task.get("NodeID", ""))
        url = self.node_engine(node) if node else ""
        if not (cid and url):
            return
        client = registry.shared(
            "docker-client",
            None,
            lambda: docker.APIClient(**{**self._engine_kwargs(), "base_url": url}),
            "node",
            url,
        )
        try:
            stats = await asyncio.wrap_future(self.executor.submit(client.stats, cid, stream=False))
        except (requests.exceptions.RequestException, docker.errors.DockerException) as e:
            self.log.debug("No stats of %s from %s: %s", self._log_name, url, e)
            return
        reading = oom.stats_reading(stats)
        self.live = {**reading, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self.task_id:
            state["task_id"] = self.task_id
        if self.network_name == "host" and self.port:
            state["port"] = self.port
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.task_id = state.get("task_id", "")
        if state.get("port"):
            self.port = state["port"]

    def clear_state(self) -> None:
        super().clear_state()
        self.task_id = ""
        self.lost_reason = None


def _unschedulable(err: str) -> bool:
    """A pending task's error that means no node can take it (the scheduler's words)."""
    return "no suitable node" in err


def node_lost(down_since: float, manager_away_at: float | None, now: float, grace: float) -> bool:
    """Whether a node seen down since ``down_since`` has lost its servers: down for
    ``grace`` seconds, and the manager answering for as long (a manager back from
    a restart reports nodes down until they reconnect)."""
    if now - down_since < grace:
        return False
    return manager_away_at is None or now - manager_away_at >= grace
