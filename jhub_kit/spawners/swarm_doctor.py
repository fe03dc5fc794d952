"""``jhub-kit doctor`` on a swarm: from every node, is the server image there (or
pullable), and is the homes' ``base_dir`` the same share the hub writes to?

One short task per node (a service pinned with ``node.id==ID``, never
restarted), running the server image with ``base_dir`` bound read-only: it
succeeds only if it reads back a token the hub has just written there. What a
task's end means is decided by :func:`verdict` (pure); :func:`check_nodes`
does the I/O with a docker-py ``APIClient`` for a manager.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

MARKER = ".jhub-kit-doctor"
LABEL = "io.jhub-kit.doctor"
FINAL = {"complete", "failed", "rejected", "shutdown", "orphaned", "remove"}


@dataclass
class NodeResult:
    node: str
    ok: bool
    found: str
    fix: str = ""


def node_name(node: dict[str, Any]) -> str:
    host = node.get("Description", {}).get("Hostname", "")
    return f"{host} ({node.get('Status', {}).get('Addr', node['ID'][:12])})"


def verdict(name: str, task: dict[str, Any] | None, image: str, share: str | None) -> NodeResult:
    """What one node's task says (``task``: its inspect; None: it never ended)."""
    if task is None:
        return NodeResult(
            name,
            False,
            f"node {name}: the check did not finish",
            "see `docker node ps` for that node",
        )
    status = task.get("Status", {})
    state = status.get("State", "")
    err = status.get("Err", "") or status.get("Message", "")
    if state == "complete":
        what = f"image {image} runs" + (f", {share} is the hub's share" if share else "")
        return NodeResult(name, True, f"node {name}: {what}")
    if "No such image" in err or "pull access denied" in err or "manifest" in err:
        return NodeResult(
            name,
            False,
            f"node {name}: image {image} is not there and cannot be pulled ({err})",
            f"push {image} to a registry every node can reach, or `docker pull` it on the node",
        )
    if "bind source path does not exist" in err:
        return NodeResult(
            name,
            False,
            f"node {name}: {share} does not exist there",
            f"mount the homes' share at {share} on that node (the same export as the hub's)",
        )
    if state == "failed" and "exit (1)" in err:
        return NodeResult(
            name,
            False,
            f"node {name}: {share} is there but is not the hub's share (another directory)",
            f"mount the share the hub writes to at {share} on that node",
        )
    return NodeResult(name, False, f"node {name}: check task {state}: {err}", "")


def check_nodes(
    client: Any, image: str, share: str | None, *, timeout: float = 120
) -> list[NodeResult]:
    """Run the check on every ready, active node; always removes what it made."""
    from docker.types import ContainerSpec, Mount, Placement, RestartPolicy, TaskTemplate

    token = secrets.token_hex(16)
    marker = os.path.join(share, MARKER) if share else None
    if marker:
        with open(marker, "w") as f:
            f.write(token)
    services: dict[str, tuple[str, str]] = {}  # node ID -> (name, service ID)
    try:
        for node in client.nodes():
            if node["Status"]["State"] != "ready" or node["Spec"]["Availability"] != "active":
                continue
            if marker:
                command = ["sh", "-c", f'test "$(cat /kit-share/{MARKER})" = {token}']
                mounts = [Mount("/kit-share", share, type="bind", read_only=True)]
            else:
                command, mounts = ["true"], []
            spec = ContainerSpec(image, command=command, mounts=mounts)
            template = TaskTemplate(
                spec,
                restart_policy=RestartPolicy(condition="none"),
                placement=Placement(constraints=[f"node.id=={node['ID']}"]),
            )
            svc = client.create_service(
                template, name=f"jhub-kit-doctor-{node['ID'][:12]}", labels={LABEL: "1"}
            )
            services[node["ID"]] = (node_name(node), svc["ID"])
        ended: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(ended) < len(services) and time.monotonic() < deadline:
            for node_id, (_, sid) in services.items():
                tasks = client.tasks(filters={"service": sid})
                done = [t for t in tasks if t["Status"]["State"] in FINAL]
                if done:
                    ended[node_id] = done[0]
            time.sleep(0.5)
        return [verdict(name, ended.get(nid), image, share) for nid, (name, _) in services.items()]
    finally:
        for _, sid in services.values():
            with contextlib.suppress(Exception):
                client.remove_service(sid)
        if marker:
            with contextlib.suppress(OSError):
                os.unlink(marker)
