"""A teacher's "more idle time for today": who may stay idle past their idle rule,
until when, and the file that says so.

A teacher lifts the idle timeout of a student (or of each member of a group) until
the end of the day, in the hub's local time (the time zone of the hub's machine or
container, ``TZ``): the class dashboard writes ``{"users": {NAME: {"until", "by",
"when"}}}`` to the extensions file beside the teachers' audit log
(:func:`extensions_file_for`); the idle culler's arbiter (:mod:`jhub_kit.idle`) and
the student's hub page read it. An extension expires by itself: once ``until`` has
passed it counts for nothing, and the next extension of anyone drops it from the
file. A server's ``max_age`` still applies.

Pure, apart from :func:`read_extensions` (a small JSON file, read).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

#: the extensions file's name, beside the teachers' audit log
FILE_NAME = "idle_extensions.json"

#: the idle culler's environment: the extensions file's path (set by the bundle)
EXTENSIONS_ENV = "JHUB_KIT_IDLE_EXTENSIONS"


def extensions_file_for(audit_log: str) -> str:
    """The extensions file of the teachers whose audit log is ``audit_log`` ("" for none)."""
    return str(Path(audit_log).with_name(FILE_NAME)) if audit_log else ""


def end_of_day(now: datetime) -> datetime:
    """The next midnight after ``now`` in the hub's local time zone (aware, local)."""
    local = now.astimezone()
    tomorrow: date = local.date() + timedelta(days=1)
    midnight = datetime.combine(tomorrow, time(0)).astimezone()
    if midnight.date() < tomorrow:  # no midnight that day (summer time starts at 00:00)
        midnight = datetime.combine(tomorrow, time(1)).astimezone()
    return midnight


def parse_time(value: Any) -> datetime | None:
    """An ISO time of the hub's or the kit's (``Z`` or an offset; none: UTC), aware;
    None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def active(data: Mapping[str, Any], now: datetime) -> dict[str, dict[str, Any]]:
    """The extensions of ``data`` still running at ``now`` (by user name)."""
    users = data.get("users") if isinstance(data, Mapping) else None
    out = {}
    for name, entry in (users or {}).items() if isinstance(users, Mapping) else ():
        until = parse_time(entry.get("until")) if isinstance(entry, Mapping) else None
        if until is not None and until > now:
            out[str(name)] = dict(entry)
    return out


def extended_until(data: Mapping[str, Any], user: str, now: datetime) -> datetime | None:
    """Until when ``user``'s idle time is lifted (None: it is not)."""
    entry = active(data, now).get(user)
    return parse_time(entry["until"]) if entry else None


def extend(
    data: Mapping[str, Any], users: Iterable[str], until: datetime, by: str, now: datetime
) -> dict[str, Any]:
    """``data`` with the idle time of ``users`` lifted until ``until`` by ``by``; the
    extensions that have expired by ``now`` are dropped."""
    kept = active(data, now)
    when = now.isoformat(timespec="seconds")
    for name in users:
        kept[name] = {"until": until.isoformat(timespec="seconds"), "by": by, "when": when}
    return {"users": dict(sorted(kept.items()))}


def read_extensions(path: str) -> dict[str, Any]:
    """The extensions file at ``path`` ({} when missing, unreadable or malformed:
    no extension, the idle rules apply as set)."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def extensions_path_from_env(env: Mapping[str, str] = os.environ) -> str:
    """The extensions file named by the bundle in ``env`` ("" for none)."""
    return env.get(EXTENSIONS_ENV, "")
