"""Who is in a course and whether what ``jhub-kit course archive|reset|restore``
would touch is in use: the hub's users (and a userlist's groups), the hub's
servers of the course's members, and the containers of this host's engine that
mount a folder. Shared by the students' homes
(:mod:`.course_cmds`) and the course's nbgrader data (:mod:`.course_nbgrader`).

The hub's answer is what counts: it lists every server running or starting
(pending), on any engine. The engine here is asked too (a container the hub does
not know, a server the hub's list did not show yet); on a swarm it sees only this
node's containers. An engine that does not answer is a refusal, never a pass.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from ..hubapi import HubAPI

K = TypeVar("K", bound=Hashable)


def hub_users(api: HubAPI, userlist: str | None) -> dict[str, dict[str, Any]]:
    """The hub's users by name (their models), with the userlist's groups added."""
    users = {u["name"]: dict(u) for u in api.users()}
    if userlist:
        from ..auth.userlist import UserlistError, UserlistFile

        try:
            listed = UserlistFile(userlist).load()
        except UserlistError as e:
            raise click.ClickException(str(e)) from None
        for name, entry in listed.users.items():
            model = users.setdefault(name, {"name": name, "groups": [], "servers": {}})
            model["groups"] = sorted(set(model.get("groups") or []) | entry.groups)
    return users


def groups_of(users: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Each user's groups."""
    return {name: list(u.get("groups") or []) for name, u in users.items()}


def running(model: dict[str, Any] | None) -> list[str]:
    """The user's servers the hub has running or starting (it lists only those)."""
    servers = (model or {}).get("servers") or {}
    return [name or "their default server" for name, s in servers.items() if not s.get("stopped")]


def members_running(members: list[str], users: Mapping[str, dict[str, Any] | None]) -> list[str]:
    """Each of ``members`` whose server the hub has running or starting, in words."""
    out = []
    for user in members:
        servers = running(users.get(user))
        if servers:
            out.append(f"{user}'s server ({', '.join(servers)})")
    return out


def under(source: str, folder: str) -> bool:
    """Whether the mount source ``source`` is ``folder`` or in it."""
    src, top = os.path.normpath(source), os.path.normpath(folder)
    return src == top or src.startswith(top.rstrip("/") + "/")


def containers_mounting(folders: Mapping[K, Path]) -> dict[K, list[str]]:
    """For each of ``folders``, this host's containers that mount it (or a folder
    in it); when the engine cannot be asked, every folder gets why, in words."""
    found: dict[K, list[str]] = {key: [] for key in folders}
    try:
        import docker

        client = docker.from_env(version="auto", timeout=30)
        containers = client.containers.list()
    except Exception as e:  # docker-py raises more than DockerException here
        why = f"the Docker engine did not answer ({e}): whether a container mounts it is unknown"
        return {key: [why] for key in folders}
    for c in containers:
        sources = [str(m.get("Source", "")) for m in c.attrs.get("Mounts") or []]
        for key, folder in folders.items():
            if any(under(src, str(folder)) for src in sources):
                found[key].append(f"container {c.name}")
    return found
