"""What a student's hub page says of their teachers and the idle culler.

- "Your teacher ada opened your server at 14:02": a teacher's ``open`` records of
  the teachers' audit log (:mod:`jhub_kit.views.dashboard.actions`), of the last
  :data:`SHOWN_FOR`;
- "Your idle time is extended until 00:00 (by ada)": a running extension
  (:mod:`jhub_kit.quota.extensions`);
- "Your server will be stopped at about 14:32 for being idle": from
  ``JhubKit.idle_warning`` before the idle culler's time, from the server's last
  activity and its idle rule (its own ``idle_timeout``, else the culler's), or
  before its ``max_age``.

Times are the hub's local time. :func:`notices` is pure; :class:`StudentNotices`
is the ``c.JupyterHub.template_vars["jhub_kit_notices"]`` callable the bundle sets
(:func:`jhub_kit.config.configure`): it reads the tail of the audit log and the
extensions file (small local files) and what the user's spawner holds. The class
dashboard says the same to the kit's JupyterLab extension in the student's server
(:mod:`jhub_kit.views.dashboard.lab_notices`), from the server's REST model
(:func:`idle_inputs_of`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from ..quota.extensions import extended_until, parse_time, read_extensions
from ..quota.policy import format_duration, server_rules

T = TypeVar("T")

#: how long a teacher's opening of a server stays on the student's page
SHOWN_FOR = timedelta(days=1)


@dataclass(frozen=True)
class IdleInputs:
    """What the warning before a cull is made of, for the user's default server."""

    last_activity: datetime | None  # the server's, as the hub knows it (UTC)
    started: datetime | None
    idle_timeout: int | None  # the server's own rule (0: never; None: the culler's)
    max_age: int | None


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _clock(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M")


def opened_by_teachers(
    user: str, records: Iterable[Mapping[str, Any]], now: datetime
) -> list[dict[str, str]]:
    """One notice per teacher's opening of ``user``'s server in :data:`SHOWN_FOR`,
    newest first (``records`` newest first, as the audit log reads)."""
    out = []
    for r in records:
        if r.get("action") != "open" or r.get("target") != f"user:{user}":
            continue
        when = parse_time(r.get("when"))
        if when is None or now - when > SHOWN_FOR:
            continue
        day = "" if when.astimezone().date() == now.astimezone().date() else " yesterday"
        text = f"Your teacher {r.get('who')} opened your server{day} at {_clock(when)}."
        out.append({"kind": "info", "key": "opened", "text": text})
    return out


def idle_warning(
    idle: IdleInputs,
    now: datetime,
    *,
    warning: int,
    culler_timeout: int,
    check_every: int,
    extended: datetime | None,
) -> dict[str, str] | None:
    """The warning shown ``warning`` seconds before the idle culler stops the server
    (None: no cull is near). ``culler_timeout``: the culler's own (0: none runs).
    ``short``, where ``text`` is long: what a JupyterLab notification shows."""
    if warning <= 0 or culler_timeout <= 0:
        return None
    later = f" (or up to {format_duration(check_every)} later)" if check_every else ""
    started = _utc(idle.started)
    if idle.max_age and started is not None:
        end = started + timedelta(seconds=idle.max_age)
        if now >= end - timedelta(seconds=warning):
            return {
                "kind": "warning",
                "key": "max-age",
                "text": f"Your server will be stopped at about {_clock(end)}{later}: it "
                f"reaches its maximum age of {format_duration(idle.max_age)}. Save your work.",
            }
    limit = culler_timeout if idle.idle_timeout is None else idle.idle_timeout
    last = _utc(idle.last_activity) or started
    if limit <= 0 or extended is not None or last is None:
        return None
    end = last + timedelta(seconds=limit)
    if now < end - timedelta(seconds=warning):
        return None
    return {
        "kind": "warning",
        "key": "idle",
        "text": f"Your server will be stopped at about {_clock(end)}{later} for being idle: "
        f"no activity since {_clock(last)}, and servers are stopped after "
        f"{format_duration(limit)} without activity. Use it (run a cell, open a "
        "notebook) to keep it running.",
        # JupyterLab's notifications show 140 characters on screen
        "short": f"Your server stops at about {_clock(end)}{later}: idle since "
        f"{_clock(last)}. Run a cell to keep it running.",
    }


def notices(
    user: str,
    records: Iterable[Mapping[str, Any]],
    extensions: Mapping[str, Any],
    now: datetime,
    idle: IdleInputs | None = None,
    *,
    warning: int = 0,
    culler_timeout: int = 0,
    check_every: int = 0,
) -> list[dict[str, str]]:
    """Everything the student's page says of teachers and the culler (``idle``:
    the running server's, None when it is not running)."""
    out = opened_by_teachers(user, records, now)
    until = extended_until(extensions, user, now)
    if until is not None:
        by = (extensions.get("users") or {}).get(user, {}).get("by", "")
        out.insert(
            0,
            {
                "kind": "info",
                "key": "extended",
                "text": f"Your teacher {by} gave you more idle time today: your server is "
                f"not stopped for being idle until the end of the day ({_clock(until)}).",
            },
        )
    if idle is not None:
        warned = idle_warning(
            idle,
            now,
            warning=warning,
            culler_timeout=culler_timeout,
            check_every=check_every,
            extended=until,
        )
        if warned:
            out.insert(0, warned)
    return out


class StudentNotices:
    """``template_vars`` callable: :func:`notices` for the logged-in user (a page must
    render even if the files cannot be read: then no notice)."""

    def __init__(
        self,
        audit_log: str,
        extensions_file: str,
        *,
        warning: int,
        culler_timeout: int,
        check_every: int,
    ):
        self.audit_log, self.extensions_file = audit_log, extensions_file
        self.warning, self.culler_timeout = warning, culler_timeout
        self.check_every = check_every
        #: path -> ((mtime, size, inode), what was read): JupyterHub renders its
        #: template variables for every page, the files change at a teacher's action
        self._read: dict[str, tuple[tuple[int, int, int], Any]] = {}

    def _cached(self, path: str, read: Callable[[str], T], default: T) -> T:
        """``read(path)``, again only once the file has changed (``default``: none)."""
        if not path:
            return default
        try:
            st = os.stat(path)
        except OSError:
            self._read.pop(path, None)
            return default
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        found = self._read.get(path)
        if found is None or found[0] != stamp:
            found = self._read[path] = (stamp, read(path))
        value: T = found[1]
        return value

    def of(self, name: str, idle: IdleInputs | None) -> list[dict[str, str]]:
        """:func:`notices` of user ``name`` whose server is ``idle`` (None: not running)."""
        from .dashboard.limits import read_log

        none: list[dict[str, Any]] = []
        return notices(
            name,
            self._cached(self.audit_log, lambda p: read_log(p, 200), none),
            self._cached(self.extensions_file, read_extensions, {}),
            datetime.now(timezone.utc),
            idle,
            warning=self.warning,
            culler_timeout=self.culler_timeout,
            check_every=self.check_every,
        )

    def __call__(self, user: Any) -> list[dict[str, str]]:
        if user is None:
            return []
        try:
            return self.of(user.name, idle_inputs(getattr(user, "spawner", None)))
        except Exception:
            logging.getLogger("JupyterHub").exception("Could not make the notices of %s", user)
            return []


def idle_inputs(spawner: Any) -> IdleInputs | None:
    """What :func:`idle_warning` needs of a running server (None: not running)."""
    if spawner is None or not getattr(spawner, "ready", False):
        return None
    orm = getattr(spawner, "orm_spawner", None)
    quota = getattr(spawner, "quota", None)
    return IdleInputs(
        last_activity=getattr(orm, "last_activity", None),
        started=getattr(orm, "started", None),
        idle_timeout=getattr(quota, "idle_timeout", None),
        max_age=getattr(quota, "max_age", None),
    )


def idle_inputs_of(server: Mapping[str, Any] | None) -> IdleInputs | None:
    """:func:`idle_inputs` of a server as the hub's REST API shows it (its ``state``
    read with ``admin:server_state``: the kit's record of its quota); None when it
    is not running. A record that cannot be read counts as no rule of its own."""
    if not server or not server.get("ready"):
        return None
    idle_timeout, max_age = server_rules(server)  # as the culler's arbiter reads them
    return IdleInputs(
        last_activity=parse_time(server.get("last_activity")),
        started=parse_time(server.get("started")),
        idle_timeout=idle_timeout,
        max_age=max_age,
    )
