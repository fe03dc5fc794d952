"""What a student sees of their quota on the hub's own pages.

The hub's home, spawn-pending and not-running pages show the student's memory,
CPU and home limits, how full the home is, and why their last server (or a
kernel in it) was stopped, e.g. "ran out of memory: limit 512M". No anchor
shows this: DockerSpawner and TLJH leave the student to guess from a dead kernel.

:func:`student_view` is pure; :func:`template_var` is what
``c.JupyterHub.template_vars["jhub_kit"]`` calls (synchronously, per page) with
the logged-in user: it only reads what the spawner already holds, so a page
render never waits for Docker or a disk. The templates in ``templates/`` extend
JupyterHub's own; :func:`jhub_kit.configure` turns both on.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ..provision import Usage
from ..quota.policy import Quota, format_duration, format_size
from .figures import home_use

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")
"""Add to ``c.JupyterHub.template_paths`` (first) to show the student's quota."""


def _cpu(quota: Quota) -> str:
    if quota.cpu_limit is None:
        return "no limit"
    n = f"{quota.cpu_limit:g}"
    return f"{n} core" if n == "1" else f"{n} cores"


def _stops(quota: Quota) -> str:
    """When the idle culler stops the server by its own rules ("" if it has none)."""
    parts = []
    if quota.idle_timeout == 0:
        parts.append("never for being idle")
    elif quota.idle_timeout:
        parts.append(f"after {format_duration(quota.idle_timeout)} without activity")
    if quota.max_age:
        parts.append(f"{format_duration(quota.max_age)} after it starts")
    return "; ".join(parts).capitalize() if parts else ""


def student_view(
    quota: Quota | None,
    usage: Usage | None,
    last_event: dict[str, Any] | None,
    profile: str = "",
) -> dict[str, Any]:
    """Rows (label, value, optional percent) and the last stop reason, for a template;
    ``profile``: the name of the server's profile, if it has one."""
    rows: list[dict[str, Any]] = []
    if profile:
        rows.append({"label": "Profile", "value": profile})
    if quota is not None:
        rows.append({"label": "Memory", "value": format_size(quota.mem_limit)})
        rows.append({"label": "CPU", "value": _cpu(quota)})
        stops = _stops(quota)
        if stops:
            rows.append({"label": "Stops", "value": stops})
    home = home_use(quota.disk_limit if quota is not None else None, usage)
    if home is not None and home.used is not None:
        value = f"{home.used_text} used of {home.limit_text}"
        if home.percent is not None:
            value += f" ({home.percent}%)"
        if home.full:
            room = "no space" if home.full == "space" else "no more files (too many files)"
            value += (
                f": full, {room} left: nothing can be saved. Delete files to make room; "
                "your teacher can raise the limit"
            )
        elif home.percent is not None and home.percent >= 90:
            # ext4 refuses writes before every block is used
            value += ": nearly full, writes may fail; delete files to make room"
        rows.append({"label": "Home", "value": value, "percent": home.percent})
    elif home is not None:
        rows.append({"label": "Home", "value": f"{home.limit_text} (use shown while running)"})
    return {"rows": rows, "last_event": (last_event or {}).get("text")}


def view_of(spawner: Any) -> dict[str, Any] | None:
    """A kit spawner's view (:func:`student_view` of what it holds), or None for
    another spawner."""
    inputs = getattr(spawner, "view_inputs", None)
    return None if inputs is None else student_view(**inputs())


def template_var(user: Any) -> dict[str, Any] | None:
    """``template_vars`` callable: the logged-in user's view, or None (no kit spawner)."""
    spawner = getattr(user, "spawner", None) if user is not None else None
    if getattr(spawner, "view_inputs", None) is None:
        return None
    try:
        result: dict[str, Any] = view_of(spawner) or {}
        servers = servers_of(user)
        if len(servers) > 1 or any(s["name"] for s in servers):
            result["servers"] = servers  # named servers: list them all
        return result
    except Exception:  # a page must render even if the view cannot be made
        logging.getLogger("JupyterHub").exception("Could not make the quota view of %s", user.name)
        return None


def servers_of(user: Any) -> list[dict[str, str]]:
    """The user's running and starting servers (named ones too): name ("" for the
    default), state, profile and memory limit, from what the spawners hold."""
    out = []
    for name, sp in sorted((getattr(user, "spawners", None) or {}).items()):
        if not getattr(sp, "active", False):
            continue
        quota = getattr(sp, "quota", None)
        label = getattr(sp, "profile_label", None) or {}
        out.append(
            {
                "name": str(name),
                "state": "running" if getattr(sp, "ready", False) else "starting",
                "profile": str(label.get("name", "")),
                "memory": format_size(quota.mem_limit) if quota is not None else "",
            }
        )
    return out
