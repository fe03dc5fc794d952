"""How many warm servers the pool should hold right now: pure rules, and the two
small files through which the administrator's command line and the hub talk.

Three sources, the largest wins:

- ``pool_size``: always;
- ``pool_schedule``: class times, e.g. ``"mon 08:50-10:30 40"`` (the hub's local time);
- a fill request: ``jhub-kit pool fill 40 --for 2h`` before a class that is not
  in the schedule (``fill-request.json`` in ``pool_dir``).

The hub writes ``status.json`` in ``pool_dir`` every few seconds; ``jhub-kit pool
status`` reads it. Both files hold no user's data (counts and member names).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import atomic_write

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REQUEST_FILE = "fill-request.json"
STATUS_FILE = "status.json"
SCHEDULE_HELP = (
    'a schedule entry is "DAYS HH:MM-HH:MM SIZE [PROFILE]", e.g. "mon 08:50-10:30 40", '
    '"mon,wed 13:20-15:00 25", "mon-fri 09:00-17:00 5", "daily 08:00-18:00 3" or '
    '"thu 10:00-12:00 20 r-course" (servers of the profile with that slug)'
)
_PROFILE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class ScheduleError(ValueError):
    """A schedule entry or duration the kit cannot read; the message says how to write it."""


@dataclass(frozen=True)
class Window:
    """A class time: on ``days`` (0 = Monday) from ``start`` until ``end``, keep
    ``size`` servers of ``profile`` (a profile's slug; "": the configuration's)."""

    days: frozenset[int]
    start: dt.time
    end: dt.time
    size: int
    text: str
    profile: str = ""

    def covers(self, when: dt.datetime) -> bool:
        return when.weekday() in self.days and self.start <= when.time() < self.end


@dataclass(frozen=True)
class FillRequest:
    """``jhub-kit pool fill``: keep ``size`` until ``until`` (seconds since the epoch)."""

    size: int
    until: float

    def active(self, now: float) -> bool:
        return now < self.until


def _days(text: str, entry: str) -> frozenset[int]:
    if text in ("daily", "*"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        ends = part.split("-")
        if len(ends) > 2 or any(e not in DAYS for e in ends):
            raise ScheduleError(f"{entry!r}: {part!r} is not a day or a day range; {SCHEDULE_HELP}")
        first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
        if last < first:
            raise ScheduleError(f"{entry!r}: {part!r} runs backwards; write it as two ranges")
        days.update(range(first, last + 1))
    return frozenset(days)


def _time(text: str, entry: str) -> dt.time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not m or int(m[1]) > 24 or int(m[2]) > 59 or (int(m[1]) == 24 and int(m[2])):
        raise ScheduleError(f"{entry!r}: {text!r} is not a time (HH:MM); {SCHEDULE_HELP}")
    if int(m[1]) == 24:
        return dt.time.max
    return dt.time(int(m[1]), int(m[2]))


def parse_window(entry: str) -> Window:
    """One schedule entry; :class:`ScheduleError` says what is wrong and how to write it."""
    parts = entry.split()
    if len(parts) not in (3, 4):
        raise ScheduleError(f"{entry!r}: {SCHEDULE_HELP}")
    days, span, size = (p.lower() for p in parts[:3])
    profile = parts[3] if len(parts) == 4 else ""
    if profile and not _PROFILE_RE.match(profile):
        raise ScheduleError(
            f"{entry!r}: {profile!r} is not a profile's slug (lowercase letters, digits, "
            "'.', '_' or '-')"
        )
    if span.count("-") != 1:
        raise ScheduleError(f"{entry!r}: {span!r} is not a time span (HH:MM-HH:MM)")
    start_text, end_text = span.split("-")
    start, end = _time(start_text, entry), _time(end_text, entry)
    if end <= start:
        raise ScheduleError(
            f"{entry!r}: the span ends before it starts; a span past midnight is two entries"
        )
    if not size.isdigit() or int(size) < 1:
        raise ScheduleError(f"{entry!r}: the size {size!r} must be a whole number of servers")
    return Window(_days(days, entry), start, end, int(size), entry.strip(), profile)


def parse_schedule(entries: list[str]) -> list[Window]:
    return [parse_window(e) for e in entries]


def parse_duration(text: str) -> float:
    """``90m``, ``2h``, ``1h30m``, ``45s`` -> seconds (``jhub-kit pool fill --for``).

    Stricter than the quotas' :func:`jhub_kit.quota.policy.parse_duration` on purpose:
    a unit is required (``--for 90`` is refused, not 90 seconds), whole numbers of
    hours, minutes and seconds only, and no ``"unlimited"`` (``0m`` is a request that
    has already ended, where a quota's ``0`` means never): a fill always ends."""
    m = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text.strip().lower())
    if not text.strip() or not m or not any(m.groups()):
        raise ScheduleError(f"{text!r} is not a duration: write e.g. 90m, 2h or 1h30m")
    h, mi, s = (int(g or 0) for g in m.groups())
    return float(h * 3600 + mi * 60 + s)


def target(
    now: dt.datetime,
    base: int,
    windows: list[Window],
    request: FillRequest | None,
    cap: int = 0,
    profile: str = "",
) -> tuple[int, str]:
    """The pool's size now and why, for servers of ``profile`` ("": the
    configuration's): the largest of ``base`` (``pool_size``, or the profile's
    own), the class times naming the profile that cover ``now`` (a naive local
    time) and an unexpired fill request, the request held to ``cap``
    (``pool_fill_max``; 0: no cap)."""
    size, why = base, "pool_size" if not profile else f"profile {profile}'s pool_size"
    for w in windows:
        if w.profile == profile and w.covers(now) and w.size > size:
            size, why = w.size, f"schedule {w.text!r}"
    if request is not None and request.active(now.timestamp()):
        until = dt.datetime.fromtimestamp(request.until).strftime("%a %H:%M")
        asked, note = request.size, ""
        if cap and asked > cap:
            asked, note = cap, f", held to pool_fill_max {cap}"
        if asked > size:
            size, why = asked, f"fill request until {until}{note}"
    return size, why


# -- the two files -----------------------------------------------------------------


def _write_json(path: Path, data: dict[str, Any], mode: int) -> None:
    atomic_write(path, json.dumps(data, indent=1), mode)


def write_request(pool_dir: Path, request: FillRequest | None) -> None:
    """Ask the hub for a size until a time; ``None`` withdraws the request."""
    path = pool_dir / REQUEST_FILE
    if request is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    _write_json(path, {"size": request.size, "until": request.until}, 0o644)


def read_request(pool_dir: Path) -> FillRequest | None:
    """The fill request, or None (none, or a file that is not one: ignored)."""
    try:
        data = json.loads((pool_dir / REQUEST_FILE).read_text())
        return FillRequest(int(data["size"]), float(data["until"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_status(pool_dir: Path, status: dict[str, Any]) -> None:
    _write_json(pool_dir / STATUS_FILE, status, 0o644)


def read_status(pool_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((pool_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
