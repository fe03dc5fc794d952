"""Idle rules per group, profile and user, enforced by jupyterhub-idle-culler.

The bundle runs `jupyterhub-idle-culler <https://github.com/jupyterhub/jupyterhub-idle-culler>`_
as a hub-managed service (``c.JhubKit.idle_timeout``). Its ``--timeout`` is one
number for the whole hub; classes want their own (an exam stopped after 15
minutes idle, a research group after 8 hours, a class day ended after 12 hours).
The kit resolves ``idle_timeout`` and ``max_age`` like every quota key (defaults,
the most generous of the user's groups, the user's own entry, the profile) and
keeps them with the running server's quota in the hub's database; the culler
reads them from the server's model (its role has ``admin:server_state``) through
its documented ``cull_arbiter_hook``, set by the config file beside this module
(:data:`CULLER_CONFIG`, passed as ``--config``). A server with no kit record (a
spawner of another kind, a server started before the upgrade) gets the culler's
own ``--timeout``.

A teacher's "more idle time for today" (:mod:`jhub_kit.quota.extensions`) lifts a
student's idle timeout until the end of the day: :func:`arbiter_with_extensions`
reads the extensions file (the culler's ``$JHUB_KIT_IDLE_EXTENSIONS``, set by the
bundle) at each look at a server; no cleanup is needed, an expired extension counts
for nothing.

:func:`cull_arbiter` is pure; :func:`arbiter_with_extensions` reads the extensions
file. This module runs in the culler's process.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .quota.extensions import extended_until, parse_time, read_extensions
from .quota.policy import server_rules

#: the culler's config file: ``c.IdleCuller.cull_arbiter_hook = cull_arbiter``. In a
#: folder without ``__init__.py``, so it is data of the package, never one of its
#: modules (it needs the config loader's ``get_config``; importing every module of the
#: package, as pydoc or a test does, must work)
CULLER_CONFIG = str(Path(__file__).with_name("culler") / "idle_culler_config.py")


def _age(server: dict[str, Any], now: datetime) -> timedelta | None:
    when = parse_time(server.get("started"))
    return None if when is None else now - when


def cull_arbiter(
    *,
    inactive: timedelta | None,
    inactive_limit: int,
    server: dict[str, Any],
    now: datetime | None = None,
    extended: bool = False,
    **kwargs: Any,
) -> bool:
    """jupyterhub-idle-culler's ``cull_arbiter_hook``: whether to stop ``server`` now.

    The server's own ``idle_timeout`` replaces the culler's ``inactive_limit`` (0:
    never for idleness); its ``max_age`` stops it that long after its start, active
    or not (the culler's own ``--max-age`` still applies beside it). ``extended``: a
    teacher lifted the idle timeout for today (never for idleness; ``max_age`` holds)."""
    if inactive is None:  # no activity and no start time: the culler skips it too
        return False
    timeout, max_age = server_rules(server)
    if max_age:
        age = _age(server, now or datetime.now(timezone.utc))
        if age is not None and age.total_seconds() >= max_age:
            return True
    limit = inactive_limit if timeout is None else timeout
    if limit <= 0 or extended:
        return False
    return inactive.total_seconds() >= limit


def server_user(server: dict[str, Any]) -> str:
    """The name of the user a server model belongs to (its ``full_name``: ``user/name``)."""
    return str(server.get("full_name") or "").split("/", 1)[0]


def arbiter_with_extensions(path: str) -> Callable[..., bool]:
    """:func:`cull_arbiter` that honours the teachers' extensions in the file at
    ``path`` (read at each call: an extension given a minute ago counts)."""

    def arbiter(*, server: dict[str, Any], **kwargs: Any) -> bool:
        now = kwargs.pop("now", None) or datetime.now(timezone.utc)
        user = server_user(server)
        until = extended_until(read_extensions(path), user, now) if path and user else None
        return cull_arbiter(server=server, now=now, extended=until is not None, **kwargs)

    return arbiter
