"""A :class:`~jhub_kit.quota.Quota` as a Docker Swarm service's resources (pure).

What a service can enforce, per task (the container on whichever node runs it):

- memory: ``Limits.MemoryBytes``; guarantee: ``Reservations.MemoryBytes``, which
  the scheduler never overcommits on a node;
- CPU: ``Limits.NanoCPUs`` (a hard ceiling); guarantee: ``Reservations.NanoCPUs``;
- PIDs: ``Limits.Pids`` (in the Engine API; docker-py's ``Resources`` has no
  argument for it, so it is added to the spec).

What it cannot: turning swap off. A service has no swap setting; the engine
gives the container swap equal to its memory limit (memory + swap = twice the
limit), so ``swap_limit = 0`` is not kept on a swarm (:func:`not_enforced`).
The disk limit is the home provisioner's, as on one host.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from docker.types import Resources

from .policy import Quota, format_size

NANO = 1_000_000_000


def service_resources(quota: Quota, extra: dict[str, Any] | None = None) -> Resources:
    """docker-py ``Resources`` for ``quota`` (``extra``: the admin's
    ``extra_resources_spec`` keywords, which win)."""
    kwargs: dict[str, Any] = {
        "mem_limit": quota.mem_limit,
        "mem_reservation": quota.mem_guarantee,
        "cpu_limit": round(quota.cpu_limit * NANO) if quota.cpu_limit else None,
        "cpu_reservation": round(quota.cpu_guarantee * NANO) if quota.cpu_guarantee else None,
    }
    kwargs.update(extra or {})
    resources = Resources(**kwargs)
    if quota.pids_limit is not None:
        resources.setdefault("Limits", {})["Pids"] = quota.pids_limit
    return resources


def not_enforced(quota: Quota) -> list[str]:
    """The parts of ``quota`` a swarm service cannot enforce, in words."""
    out = []
    if quota.mem_limit is not None and quota.swap_limit is not None:
        out.append(
            f"swap {format_size(quota.swap_limit)}: a swarm service cannot set swap; its "
            f"container may swap up to its memory limit ({format_size(quota.mem_limit)})"
        )
    return out


def placement_constraints(quota: Quota) -> list[str]:
    """Swarm placement constraints for the quota's node labels."""
    return [f"node.labels.{k}=={v}" for k, v in quota.node_labels]


def swarm_start_limit(nodes: Iterable[dict[str, Any]]) -> int:
    """Starts in flight by default on a swarm: the cores of the nodes that take
    servers (ready and active), at least 2; from ``docker node ls`` entries."""
    cores = sum(
        n.get("Description", {}).get("Resources", {}).get("NanoCPUs", 0) / NANO
        for n in nodes
        if n.get("Status", {}).get("State") == "ready"
        and n.get("Spec", {}).get("Availability") == "active"
    )
    return max(2, int(cores))
