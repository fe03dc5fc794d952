"""The dashboard's rows: pure functions of the hub's user models, the quota
report's rows and what was read from the containers' cgroups."""

from __future__ import annotations

import csv
import io
from collections import deque
from collections.abc import Mapping
from typing import Any

from ...provision import Usage
from ...quota.policy import (
    Quota,
    QuotaError,
    approx_size,
    format_size,
    parse_size,
    read_kit_state,
)
from ..figures import HomeUse, home_use
from ..report import quota_columns

COLUMNS = [
    ("user", "User"),
    ("groups", "Groups"),
    ("server_name", "Server name"),
    ("server", "Server"),
    ("profile", "Profile"),
    ("memory_used", "Memory used"),
    ("memory", "Memory limit"),
    ("memory_peak", "Peak memory (1 h)"),
    ("cpu_used", "CPU used"),
    ("cpu", "CPU limit"),
    ("cpu_peak", "Peak CPU (1 h)"),
    ("history", "Last hour"),
    ("disk_used", "Home used"),
    ("disk_limit", "Home limit"),
    ("last_activity", "Last activity"),
    ("oom_kills", "OOM kills"),
    ("last_event", "Last stop reason"),
]

#: the columns a narrow window leaves out, each shown from a Bootstrap 5 breakpoint
#: up (md 768 px, lg 992, xl 1200, xxl 1400): a phone sees who runs what and how
#: much memory, CPU and home they use; "All columns" on the page and the CSV keep
#: every column (a named server's name is in its row's user cell too)
HIDE_BELOW = {
    "history": "md",
    "cpu": "lg",
    "disk_limit": "lg",
    "last_activity": "lg",
    "oom_kills": "lg",
    "profile": "xl",
    "groups": "xxl",
    "server_name": "xxl",
    "memory_peak": "xxl",
    "cpu_peak": "xxl",
    "last_event": "xxl",
}


def cpu_percent(
    before: tuple[float, float] | None, now: tuple[float, float] | None
) -> float | None:
    """CPU use in % of one core between two ``(wall seconds, cpu seconds)`` samples."""
    if before is None or now is None or now[0] <= before[0] or now[1] < before[1]:
        return None
    return 100 * (now[1] - before[1]) / (now[0] - before[0])


def server_status(model: dict[str, Any], name: str = "") -> str:
    """The state of the user's server ``name`` ("" the default one)."""
    server = (model.get("servers") or {}).get(name)
    if not server:
        return "stopped"
    kit = read_kit_state(server.get("state"))
    if server.get("pending") == "spawn" and kit.get("queue_ahead") is not None:
        ahead = kit["queue_ahead"]
        return f"queued, {ahead} ahead" if ahead else "queued, next"
    if server.get("pending"):
        return f"pending {server['pending']}"
    return "running" if server.get("ready") else "starting"


#: what a user of the roster who never logged in shows as their server
NEVER = "never logged in"


def row_key(user: str, server_name: str = "") -> str:
    """What the dashboard keys a server's readings and history by: the user's name
    for their default server, ``user/name`` for a named one (names have no "/")."""
    return f"{user}/{server_name}" if server_name else user


def server_names(model: dict[str, Any]) -> list[str]:
    """The servers a user's rows show: the default one always (running or not), then
    each named server the hub lists (running or starting), by name."""
    return ["", *sorted(n for n in (model.get("servers") or {}) if n)]


#: the chart's points per row (one a minute over the hour)
POINTS = 60


class History:
    """What the dashboard remembers (in its own memory, bounded): each user's memory
    and CPU readings over the last ``span`` seconds, and the class's running and
    queued servers over the last ``class_span``."""

    def __init__(self, span: float = 3600, class_span: float = 4 * 3600):
        self.span, self.class_span = span, class_span
        self.users: dict[str, deque[tuple[float, int | None, float | None]]] = {}
        self.klass: deque[tuple[float, int, int]] = deque()

    def add(
        self,
        now: float,
        readings: dict[str, dict[str, Any]],
        running: int,
        queued: int,
    ) -> None:
        for user, r in readings.items():
            used, cpu = r.get("memory_used"), r.get("cpu_percent")
            if used is not None or cpu is not None:
                self.users.setdefault(user, deque()).append((now, used, cpu))
        for user in list(self.users):
            dq = self.users[user]
            while dq and dq[0][0] < now - self.span:
                dq.popleft()
            if not dq:
                del self.users[user]  # nothing for an hour: forgotten
        self.klass.append((now, running, queued))
        while self.klass and self.klass[0][0] < now - self.class_span:
            self.klass.popleft()

    def peaks(self, user: str) -> tuple[int | None, float | None]:
        """The user's largest memory (bytes) and CPU (%) of the last ``span``."""
        dq = self.users.get(user) or ()
        mem = [m for _, m, _ in dq if m is not None]
        cpu = [c for _, _, c in dq if c is not None]
        return (max(mem) if mem else None, max(cpu) if cpu else None)

    def chart(self, user: str, now: float) -> dict[str, list[Any]]:
        """The user's last ``span`` in :data:`POINTS` buckets (each one's largest
        reading; None where there was none): memory in bytes, CPU in %."""
        width = self.span / POINTS
        mem: list[Any] = [None] * POINTS
        cpu: list[Any] = [None] * POINTS
        for t, m, c in self.users.get(user) or ():
            i = min(POINTS - 1, max(0, POINTS - 1 - int((now - t) / width)))
            if m is not None:
                mem[i] = m if mem[i] is None else max(mem[i], m)
            if c is not None:
                cpu[i] = round(c, 1) if cpu[i] is None else max(cpu[i], round(c, 1))
        return {"memory": mem, "cpu": cpu}

    def chart_span(self, now: float, least: float = 60) -> float:
        """The seconds the class chart spans: from the oldest sample kept (the
        service's start, at most ``class_span`` ago) to ``now``, at least ``least``:
        the chart's x axis is the data present, not a fixed 4 hours."""
        oldest = self.klass[0][0] if self.klass else now
        return max(least, min(self.class_span, now - oldest))

    def class_chart(self, now: float, points: int = 240) -> list[list[float]]:
        """``[seconds ago, running, queued]`` over :meth:`chart_span`, oldest first,
        at most ``points`` (each bucket's largest counts, at its newest time): every
        sample while there are fewer, e.g. in the service's first minutes."""
        width = self.chart_span(now, least=0) / points
        out: dict[int, list[float]] = {}
        for t, running, queued in self.klass:
            i = int((now - t) / width) if width > 0 else 0
            if i in out:
                out[i][0] = min(out[i][0], round(now - t, 1))  # the bucket's newest
                out[i][1] = max(out[i][1], running)
                out[i][2] = max(out[i][2], queued)
            else:
                out[i] = [round(now - t, 1), running, queued]
        return [out[i] for i in sorted(out, reverse=True)]


def class_rows(
    users: list[dict[str, Any]],
    quota: dict[str, dict[str, Any]],
    live: dict[str, dict[str, Any]],
    roster: dict[str, list[str]] | None = None,
    history: History | None = None,
    now: float = 0.0,
) -> list[dict[str, Any]]:
    """One row per user: the hub's model, their quota row (``Collector.quota_rows``,
    from the hub's settings), and ``live`` readings (``memory_used`` bytes,
    ``cpu_percent``) by user name; a row for each of the ``roster`` (who may log
    in, with their groups) the hub has never seen; each row's peaks and chart from
    ``history``."""
    known = {u["name"] for u in users}
    never = [
        {"name": name, "groups": groups, "servers": {}, "never": True}
        for name, groups in (roster or {}).items()
        if name not in known
    ]
    rows = []
    for model in sorted([*users, *never], key=lambda u: u["name"]):
        for server_name in server_names(model):
            rows.append(_row(model, server_name, quota, live, history, now))
    return rows


def _row(
    model: dict[str, Any],
    server_name: str,
    quota: dict[str, dict[str, Any]],
    live: dict[str, dict[str, Any]],
    history: History | None,
    now: float,
) -> dict[str, Any]:
    name = model["name"]
    key = row_key(name, server_name)
    server = (model.get("servers") or {}).get(server_name) or {}
    kit = read_kit_state(server.get("state"))
    # a running server shows the quota it runs with, as the student's page does (a
    # named server's may be its profile's); the hub's policy for the rest
    q = {**(quota.get(name) or {}), **_state_quota(kit)}
    reading = live.get(key, {})
    used = reading.get("memory_used")
    cpu = reading.get("cpu_percent")
    # the home as the student's own page shows it (the spawner's last measure)
    home = home_use(_size(q.get("disk_limit")), Usage.from_state(kit.get("home_usage")))
    mem_peak, cpu_peak = history.peaks(key) if history else (None, None)
    return {
        "user": name,
        "server_name": server_name,
        "groups": ",".join(model.get("groups") or []),
        "admin": bool(model.get("admin")),
        "server": NEVER if model.get("never") else server_status(model, server_name),
        "profile": (kit.get("profile") or {}).get("name", "")
        if server.get("ready") or server.get("pending")
        else "",
        "memory_peak": "-" if mem_peak is None else approx_size(mem_peak),
        "memory_peak_bytes": mem_peak,
        "cpu_peak": "-" if cpu_peak is None else f"{cpu_peak:.0f}%",
        "history": history.chart(key, now) if history else None,
        "queue_ahead": kit.get("queue_ahead"),
        "memory_used": "-" if used is None else approx_size(used),
        "memory_used_bytes": used,
        "memory": q.get("memory", "-"),
        "cpu_used": "-" if cpu is None else f"{cpu:.0f}%",
        "cpu": q.get("cpu", "-"),
        "disk_used": _home_used(home) or q.get("disk_used", "-"),
        "disk_used_bytes": home.used if home else None,
        "disk_limit": home.limit_text if home else str(q.get("disk_limit") or "-"),
        "last_activity": server.get("last_activity") or model.get("last_activity") or "",
        "oom_kills": int(kit.get("oom_kills", 0)),
        "last_event": (kit.get("last_event") or {}).get("text", ""),
    }


def _home_used(home: HomeUse | None) -> str:
    """The home's use as the student's page says it, e.g. ``72K (0%)`` ("" when not
    measured)."""
    if home is None or home.used is None:
        return ""
    text = home.used_text
    if home.percent is not None:
        text += f" ({home.percent}%)"
    return text + (", full" if home.full else "")


def _size(text: Any) -> int | None:
    """Bytes of a quota column's size ("60M"); None for "-", "unlimited" or nothing."""
    if not text or text in ("-", "unlimited"):
        return None
    try:
        return int(parse_size(text))
    except (QuotaError, TypeError, ValueError):
        return None


def _state_quota(kit: Mapping[str, Any]) -> dict[str, Any]:
    """The running server's quota from the kit's state, when the config is not known."""
    try:
        if not kit.get("quota"):
            return {}
        q = Quota.from_state(kit["quota"])
        return {
            **quota_columns(q),
            "disk_limit": format_size(q.disk_limit) if q.disk_limit else "-",
        }
    except (TypeError, ValueError, KeyError):
        return {}


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    keys = [key for key, _ in COLUMNS if key != "history"]  # a chart: not a cell
    w.writerow(keys)
    for r in rows:
        # a cell a spreadsheet would run as a formula is quoted as text
        w.writerow([_cell(r.get(key, "")) for key in keys])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and text != "-" else text
