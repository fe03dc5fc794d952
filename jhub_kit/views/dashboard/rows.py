"""The dashboard's rows: pure functions of the hub's user models, the quota
report's rows and what was read from the containers' cgroups."""

from __future__ import annotations

import csv
import io
from typing import Any

from ...quota.policy import Quota, approx_size, format_size
from ..report import quota_columns

COLUMNS = [
    ("user", "User"),
    ("groups", "Groups"),
    ("server", "Server"),
    ("memory_used", "Memory used"),
    ("memory", "Memory limit"),
    ("cpu_used", "CPU used"),
    ("cpu", "CPU limit"),
    ("disk_used", "Home used"),
    ("disk_limit", "Home limit"),
    ("last_activity", "Last activity"),
    ("oom_kills", "OOM kills"),
    ("last_event", "Last stop reason"),
]


def cpu_percent(
    before: tuple[float, float] | None, now: tuple[float, float] | None
) -> float | None:
    """CPU use in % of one core between two ``(wall seconds, cpu seconds)`` samples."""
    if before is None or now is None or now[0] <= before[0] or now[1] < before[1]:
        return None
    return 100 * (now[1] - before[1]) / (now[0] - before[0])


def server_status(model: dict[str, Any]) -> str:
    server = (model.get("servers") or {}).get("")
    if not server:
        return "stopped"
    kit = (server.get("state") or {}).get("jhub_kit") or {}
    if server.get("pending") == "spawn" and kit.get("queue_ahead") is not None:
        ahead = kit["queue_ahead"]
        return f"queued, {ahead} ahead" if ahead else "queued, next"
    if server.get("pending"):
        return f"pending {server['pending']}"
    return "running" if server.get("ready") else "starting"


def class_rows(
    users: list[dict[str, Any]],
    quota: dict[str, dict[str, Any]],
    live: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """One row per user: the hub's model, their quota row (``Collector.quota_rows``,
    from the hub's settings), and ``live`` readings (``memory_used`` bytes,
    ``cpu_percent``) by user name."""
    rows = []
    for model in sorted(users, key=lambda u: u["name"]):
        name = model["name"]
        server = (model.get("servers") or {}).get("") or {}
        kit = (server.get("state") or {}).get("jhub_kit") or {}
        q = quota.get(name) or _state_quota(kit)
        reading = live.get(name, {})
        used = reading.get("memory_used")
        cpu = reading.get("cpu_percent")
        home = kit.get("home_usage")  # the hub's own measure of a running home is newer
        rows.append(
            {
                "user": name,
                "groups": ",".join(model.get("groups") or []),
                "admin": bool(model.get("admin")),
                "server": server_status(model),
                "queue_ahead": kit.get("queue_ahead"),
                "memory_used": "-" if used is None else approx_size(used),
                "memory_used_bytes": used,
                "memory": q.get("memory", "-"),
                "cpu_used": "-" if cpu is None else f"{cpu:.0f}%",
                "cpu": q.get("cpu", "-"),
                "disk_used": (("≥ " if home.get("partial") else "") + format_size(home["used"]))
                if home
                else q.get("disk_used", "-"),
                "disk_limit": _disk_limit(q, home),
                "last_activity": server.get("last_activity") or model.get("last_activity") or "",
                "oom_kills": int(kit.get("oom_kills", 0)),
                "last_event": (kit.get("last_event") or {}).get("text", ""),
            }
        )
    return rows


def _disk_limit(q: dict[str, Any], home: dict[str, Any] | None) -> str:
    """The quota's size where it sets one (what was promised); else the home's own."""
    promised = q.get("disk_limit")
    if promised not in (None, "-", "unlimited") or not home or not home.get("limit"):
        return str(promised or "-")
    return format_size(home["limit"])


def _state_quota(kit: dict[str, Any]) -> dict[str, Any]:
    """The running server's quota from the kit's state, when the config is not known."""
    try:
        return quota_columns(Quota.from_state(kit["quota"])) if kit.get("quota") else {}
    except (TypeError, ValueError, KeyError):
        return {}


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([key for key, _ in COLUMNS])
    for r in rows:
        # a cell a spreadsheet would run as a formula is quoted as text
        w.writerow([_cell(r.get(key, "")) for key, _ in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and text != "-" else text
