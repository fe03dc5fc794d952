"""The kit's Prometheus metrics, served by JupyterHub's own ``/hub/metrics`` (its
registry, its authentication: a token with ``read:metrics``, or
``c.JupyterHub.authenticate_prometheus = False``).

Every metric is named ``jhub_kit_*`` and has few label values: reasons and buckets
from fixed lists, a group name for OOM kills, never a user name. The Grafana board
in ``example_config/grafana-dashboard.json`` graphs them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from prometheus_client import Counter, Gauge, Histogram

START_QUEUE_LENGTH = Gauge(
    "jhub_kit_start_queue_length",
    "Starts waiting in line for a start slot (the start queue), now.",
)
START_QUEUE_WAIT = Histogram(
    "jhub_kit_start_queue_wait_seconds",
    "Seconds a cold start waited in line before its slot.",
    buckets=(0.05, 0.25, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
POOL_READY = Gauge(
    "jhub_kit_pool_ready",
    "Warm pool members ready to be given out, now.",
)
POOL_GIVEN = Counter(
    "jhub_kit_pool_given",
    "Starts served by a warm pool member.",
)
#: why a start with the pool on went cold (the label's only values)
COLD_REASONS = ("differs", "no_memory_limit", "empty", "member_failed")
POOL_COLD = Counter(
    "jhub_kit_pool_cold_starts",
    "Starts with the warm pool on that started cold, by reason: differs (the server "
    "differs from the members), no_memory_limit, empty (no member ready), "
    "member_failed.",
    ["reason"],
)
OOM_KILLS = Counter(
    "jhub_kit_oom_kills",
    "Processes the kernel killed for memory in servers, by the user's first group "
    "(alphabetically) among those the quota configuration names; other for a group "
    "it does not name, none for no group.",
    ["group"],
)
#: why a start was refused before anything was created (the label's only values)
REFUSAL_REASONS = ("profile", "budget", "quota", "user_options", "queue_full", "queue_timeout")
REFUSALS = Counter(
    "jhub_kit_start_refusals",
    "Starts refused before a server was created, by reason: profile (not the "
    "user's), budget (max_servers, mem_budget, cpu_budget), quota (misconfigured), "
    "user_options (a student's own request above what they may ask), "
    "queue_full, queue_timeout.",
    ["reason"],
)
#: the buckets of a home's use, as a fraction of its disk limit
HOME_BUCKETS = ("<50%", "50-80%", "80-95%", ">=95%")
HOMES = Gauge(
    "jhub_kit_homes",
    "Homes with a disk limit, by their last measured use as a fraction of it.",
    ["use"],
)


def count_refusal(reason: str) -> None:
    if reason in REFUSAL_REASONS:
        REFUSALS.labels(reason=reason).inc()


def count_cold(reason: str) -> None:
    POOL_COLD.labels(reason=reason if reason in COLD_REASONS else "differs").inc()


def count_oom(kills: int, groups: Iterable[str], named: Iterable[str] = ()) -> None:
    """``kills`` more in a server of a user in ``groups``; the label is the first of
    them the configuration ``named`` (quota or ceiling groups), so the groups an
    authenticator makes (one per section, per course...) add no series."""
    groups = sorted(groups)
    known = sorted(set(groups) & set(named))
    label = known[0] if known else ("other" if groups else "none")
    OOM_KILLS.labels(group=label).inc(kills)


def home_bucket(used: int, limit: int) -> str:
    """The bucket of ``used`` bytes of a ``limit``."""
    share = used / limit if limit else 0.0
    if share < 0.5:
        return HOME_BUCKETS[0]
    if share < 0.8:
        return HOME_BUCKETS[1]
    if share < 0.95:
        return HOME_BUCKETS[2]
    return HOME_BUCKETS[3]


class HomeUse:
    """Each home's last bucket (by user, in memory), counted into :data:`HOMES`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, str] = {}
        for b in HOME_BUCKETS:
            HOMES.labels(use=b).set(0)

    def record(self, user: str, used: int, limit: int | None) -> None:
        with self._lock:
            if not limit:
                self._buckets.pop(user, None)
            else:
                self._buckets[user] = home_bucket(used, limit)
            counts = dict.fromkeys(HOME_BUCKETS, 0)
            for b in self._buckets.values():
                counts[b] += 1
            for b, n in counts.items():
                HOMES.labels(use=b).set(n)


HOME_USE = HomeUse()


def watch_queue(length: Callable[[], int]) -> None:
    """Read the start queue's length from ``length`` at each scrape (the hub's gate)."""
    START_QUEUE_LENGTH.set_function(length)


def watch_pool(ready: Callable[[], int]) -> None:
    """Read the pool's ready members from ``ready`` at each scrape."""
    POOL_READY.set_function(ready)
