"""What the class dashboard needs of the hub's configuration, handed over by the hub.

The dashboard shows each user's quota, also for users whose server is not
running. It used to run the hub's whole ``jupyterhub_config.py`` for that, as
root, with a copy of the hub's environment (the proxy's token, OAuth secrets).
Now the hub writes this one small file and rewrites it while it runs
(:func:`keep_written`): the quota policy as the hub has it (the configured
defaults that are plain values, ``quota_groups``, ``quota_users``, and the
policy file's text), nothing secret, readable by the dashboard's unprivileged
user. The dashboard parses it with the hub's own code (:func:`policy_of`).
Everything else it shows comes from the hub's REST API, with its own token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from ... import offloop
from ...quota.policy import QuotaError, QuotaPolicy
from ...quota.policy_file import _format_for, parse_policy_text

SCHEMA = 1
#: the service's environment variable naming the file
ENV = "JHUB_KIT_DASHBOARD_SETTINGS"
#: the service's environment: the user it becomes, started by a root hub
USER_ENV = "JHUB_KIT_DASHBOARD_USER"

log = logging.getLogger("jhub_kit.views.dashboard")


def roster_of(authenticator: Any) -> dict[str, list[str]]:
    """Who may log in (``allowed_users``, ``admin_users``, the userlist's entries),
    each with the groups the userlist gives them: the dashboard lists those who
    never logged in too."""
    roster: dict[str, set[str]] = {}
    for attr in ("allowed_users", "admin_users"):
        for name in getattr(authenticator, attr, None) or ():
            roster.setdefault(str(name), set())
    userlist = getattr(authenticator, "userlist", None)
    found = userlist() if callable(userlist) else None
    for name, entry in getattr(found, "users", {}).items():
        roster.setdefault(name, set()).update(entry.groups)
    return {name: sorted(groups) for name, groups in sorted(roster.items())}


def settings_of(spawner: Any, authenticator: Any = None) -> dict[str, Any]:
    """The policy of the hub's spawner class (a spawner made from the hub's config),
    and the roster of ``authenticator`` (the hub's)."""
    defaults = {
        k: v
        for k, v in spawner.configured_defaults().items()
        if not callable(v) and v is not None and k != "node_labels"
    }
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "spawner": type(spawner).__name__,
        "defaults": defaults,
        "groups": dict(spawner.quota_groups),
        "users": dict(spawner.quota_users),
        "policy_file": None,
        "roster": {} if authenticator is None else roster_of(authenticator),
    }
    path = spawner.quota_policy_file
    if path:
        try:
            out["policy_file"] = {"path": path, "text": Path(path).read_text()}
        except OSError as e:
            log.warning("Dashboard settings: cannot read %s: %s", path, e)
    teachers = getattr(spawner, "teacher_policy_file", "")
    if teachers:  # the dashboard writes the teachers' changes there (missing: none yet)
        try:
            text = Path(teachers).read_text() if os.path.exists(teachers) else ""
            out["teacher_policy_file"] = {"path": teachers, "text": text}
        except OSError as e:
            log.warning("Dashboard settings: cannot read %s: %s", teachers, e)
    return out


def policy_of(settings: dict[str, Any]) -> QuotaPolicy | None:
    """The policy the hub resolves quotas with, from :func:`settings_of`'s output."""
    if not settings or int(settings.get("schema", 0)) > SCHEMA:
        return None
    try:
        policy = QuotaPolicy.from_config(
            settings.get("defaults"),
            settings.get("groups"),
            settings.get("users"),
            where=str(settings.get("spawner", "the hub's spawner")),
        )
        for key in ("policy_file", "teacher_policy_file"):
            file = settings.get(key)
            if file:
                fmt = _format_for(Path(file["path"]))
                text = file["text"]
                policy = policy.overlay(parse_policy_text(text, path=file["path"], fmt=fmt))
        return policy
    except (QuotaError, KeyError, TypeError, ValueError) as e:
        log.warning("Dashboard settings not usable: %s", e)
        return None


def write(path: str, settings: dict[str, Any]) -> None:
    """Write the file whole or not at all, readable by anyone (nothing secret in it)."""
    from ...files import atomic_write

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(target.parent, os.stat(target.parent).st_mode | 0o055)
    atomic_write(target, json.dumps(settings, indent=1, default=str), 0o644)


def roster_in(settings: dict[str, Any] | None) -> dict[str, list[str]]:
    """The roster from :func:`settings_of`'s output ({} when there is none)."""
    roster = (settings or {}).get("roster") or {}
    if not isinstance(roster, dict):
        return {}
    return {
        str(n): [str(g) for g in groups] if isinstance(groups, list) else []
        for n, groups in roster.items()
    }


def read(path: str) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def environment_of(services: list[dict[str, Any]], name: str) -> dict[str, str]:
    """The environment the hub gives its service ``name`` ({} if none is configured)."""
    for service in services:
        if service.get("name") == name:
            return dict(service.get("environment") or {})
    return {}


def path_in(services: list[dict[str, Any]], name: str) -> str:
    """The settings file the hub's dashboard service reads ("" if none is configured)."""
    return str(environment_of(services, name).get(ENV, ""))


async def keep_written(
    spawner: Any,
    path: str,
    written: dict[str, Any],
    interval: float = 30.0,
    authenticator: Any = None,
) -> None:
    """(In the hub.) Rewrite the settings every ``interval`` seconds when they change
    (the policy file is edited while the hub runs); ``written``: what the file holds."""
    last = written
    while True:
        await asyncio.sleep(interval)
        try:
            settings = await offloop.run_io(settings_of, spawner, authenticator)
            if settings != last:
                await offloop.run_io(write, path, settings)
                last = settings
        except Exception as e:  # the dashboard keeps the last file
            log.warning("Could not write the dashboard's settings to %s: %s", path, e)
