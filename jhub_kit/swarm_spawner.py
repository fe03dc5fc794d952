"""QuotaSwarmSpawner: dockerspawner's SwarmSpawner with the kit's quota policy.

The same quota vocabulary as :class:`~jhub_kit.QuotaDockerSpawner`
(``mem_limit``, ``cpu_limit``, ``pids_limit``, ``quota_groups``,
``quota_users``, ``quota_policy_file``), resolved at every spawn and applied to
the service (:mod:`jhub_kit.swarm_limits`: memory and CPU limits and
reservations, PIDs; a service cannot turn swap off)::

    c.JupyterHub.spawner_class = "jhub_kit.QuotaSwarmSpawner"
    c.QuotaSwarmSpawner.network_name = "host"   # or an overlay network the hub is on

Besides quotas, against stock SwarmSpawner:

- the task is watched every half second (SwarmSpawner backs off to 11 s steps);
- a task the scheduler rejects (no node has the memory, CPUs or labels asked
  for) fails the spawn at once with the scheduler's reason in the log and plain
  words for the student, instead of waiting for the start to time out;
- ``network_name = "host"``: the server listens on a free port of the node it
  was placed on, and the hub connects to that node's address;
- stopping a server removes its service (``remove`` defaults to True: SwarmSpawner
  has no stop of its own, so with False a "stopped" server kept running), and a
  server that exits is not restarted by the swarm behind the hub's back (restart
  condition ``none``): the hub reports it stopped.
"""

from __future__ import annotations

import asyncio
from typing import Any

from docker.types import RestartPolicy
from dockerspawner import SwarmSpawner
from jupyterhub.spawner import SpawnException
from jupyterhub.utils import random_port
from traitlets import default

from .quota import Quota
from .quota_config import QuotaConfigMixin
from .swarm_limits import not_enforced, service_resources

_CLIENTS: dict[str, Any] = {}

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


class QuotaSwarmSpawner(QuotaConfigMixin, SwarmSpawner):
    """A SwarmSpawner that enforces per-user and per-group quotas on every spawn."""

    quota: Quota | None = None
    """The quota of the current (or last) server."""

    poll_task_interval = 0.5
    """Seconds between looks at a starting task."""

    @property
    def client(self) -> Any:
        """A Docker client for this spawner's engine (``client_kwargs``, TLS, environment).

        DockerSpawner keeps one client per class, read through inheritance: once a
        DockerSpawner in the same process made one (for the local engine), a
        SwarmSpawner used it, and asked a non-manager for services. One client per
        engine instead."""
        import docker
        from docker.utils import kwargs_from_env

        kwargs: dict[str, Any] = {"version": "auto"}
        if self.tls_config:
            kwargs["tls"] = docker.tls.TLSConfig(**self.tls_config)
        kwargs.update(kwargs_from_env())
        kwargs.update(self.client_kwargs)
        key = repr(sorted((k, repr(v)) for k, v in kwargs.items()))
        if key not in _CLIENTS:
            _CLIENTS[key] = docker.APIClient(**kwargs)
        return _CLIENTS[key]

    @default("remove")
    def _remove_default(self) -> bool:
        return True

    @default("use_internal_ip")
    def _use_internal_ip_default(self) -> bool:
        # on the host network nothing is published (the engine refuses a published
        # port there: "container cannot be ... connected to host network")
        return self.network_name == "host" or bool(super()._default_use_ip())

    async def start(self) -> Any:
        self.quota = await self.resolve_quota_for_spawn()
        for gap in not_enforced(self.quota):
            self.log.info("Quota of %s on a swarm: %s", self.user.name, gap)
        if self.network_name == "host":
            # the server shares the node's network: a free port there, the node's address
            self.port = random_port()
        return await super().start()

    async def create_object(self) -> Any:
        """SwarmSpawner's service, with the resolved quota as its resources (the
        traits SwarmSpawner reads are off for the call: the quota replaces them)."""
        assert self.quota is not None
        resources = service_resources(self.quota, self.extra_resources_spec)
        saved = {
            name: getattr(self, name)
            for name in ("mem_limit", "mem_guarantee", "cpu_limit", "cpu_guarantee")
        }
        saved_task: dict[str, Any] = getattr(self, "extra_task_spec")  # noqa: B009 (untyped)
        try:
            for name in saved:
                setattr(self, name, None)
            self.extra_task_spec = {
                "restart_policy": RestartPolicy(condition="none"),
                **saved_task,
                "resources": resources,
            }
            return await SwarmSpawner.create_object(self)
        finally:
            self.extra_task_spec = saved_task
            for name, value in saved.items():
                setattr(self, name, value)

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
                return
            if state in ("rejected", "failed") or (
                state == "pending" and _unschedulable(status.get("Err", ""))
            ):
                raise SpawnException(
                    "No machine in the cluster can take your server right now "
                    "(not enough free memory or CPUs, or none of the kind your group uses). "
                    "Try again later, or tell your teacher.",
                    reason="swarm_unschedulable",
                    status_code=503,
                    log_message=(
                        f"Service {self.service_name} task {state}: "
                        f"{status.get('Err') or status.get('Message') or 'no reason given'}"
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


def _unschedulable(err: str) -> bool:
    """A pending task's error that means no node can take it (the scheduler's words)."""
    return "no suitable node" in err
