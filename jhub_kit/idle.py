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

Pure: this module runs in the culler's process and reads only the model it is given.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

#: the culler's config file: ``c.IdleCuller.cull_arbiter_hook = cull_arbiter``. In a
#: folder without ``__init__.py``, so it is data of the package, never one of its
#: modules (it needs the config loader's ``get_config``; importing every module of the
#: package, as pydoc or a test does, must work)
CULLER_CONFIG = str(Path(__file__).with_name("culler") / "idle_culler_config.py")

#: the key of the kit's part of a spawner's state (:mod:`jhub_kit.spawners.state`)
_STATE_KEY = "jhub_kit"


def server_rules(server: dict[str, Any]) -> tuple[int | None, int | None]:
    """``(idle_timeout, max_age)`` in seconds kept with the server (0: never; None: not
    set, the culler's own). Anything malformed counts as not set."""
    state = server.get("state") or {}
    kit = state.get(_STATE_KEY) if isinstance(state, dict) else None
    quota = kit.get("quota") if isinstance(kit, dict) else None
    if not isinstance(quota, dict):
        return None, None
    out = []
    for key in ("idle_timeout", "max_age"):
        value = quota.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        out.append(value if ok else None)
    return out[0], out[1]


def _age(server: dict[str, Any], now: datetime) -> timedelta | None:
    started = server.get("started")
    if not isinstance(started, str):
        return None
    try:
        when = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return now - when


def cull_arbiter(
    *,
    inactive: timedelta | None,
    inactive_limit: int,
    server: dict[str, Any],
    now: datetime | None = None,
    **kwargs: Any,
) -> bool:
    """jupyterhub-idle-culler's ``cull_arbiter_hook``: whether to stop ``server`` now.

    The server's own ``idle_timeout`` replaces the culler's ``inactive_limit`` (0:
    never for idleness); its ``max_age`` stops it that long after its start, active
    or not (the culler's own ``--max-age`` still applies beside it)."""
    if inactive is None:  # no activity and no start time: the culler skips it too
        return False
    timeout, max_age = server_rules(server)
    if max_age:
        age = _age(server, now or datetime.now(timezone.utc))
        if age is not None and age.total_seconds() >= max_age:
            return True
    limit = inactive_limit if timeout is None else timeout
    if limit <= 0:
        return False
    return inactive.total_seconds() >= limit
