"""Quotas: a value type and the policy that resolves one for a user.

Pure logic, no I/O and nothing Docker-specific, so the same policy can later
drive Docker Swarm services or KubeSpawner values.

Resolution order, lowest to highest precedence::

    defaults  <  the user's groups (merged)  <  the user's own override

Groups merge **most generous per resource**: when a user is in several groups
that set the same resource, the largest value wins, and ``"unlimited"`` beats
any number. A group may still lower a default (e.g. a ``guests`` group with
less memory than the default), because any group value replaces the default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

#: Docker refuses a memory limit below 6 MiB.
MIN_MEMORY = 6 * 1024 * 1024

#: A resource explicitly without a limit (``"unlimited"`` in config).
UNLIMITED = math.inf

_SIZE_RE = re.compile(
    r"^\s*(?P<num>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>[kmgt]?)(?:i?b)?\s*$", re.IGNORECASE
)
_UNIT = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_UNLIMITED_WORDS = {"unlimited", "none", "inf", "infinity"}

SIZE_EXAMPLE = '"512M", "2G", "1.5G" or a number of bytes'

Number = int | float


class QuotaError(ValueError):
    """A quota value or policy is invalid. The message names where and how to fix it."""


# -- parsing single values -------------------------------------------------------


def parse_size(value: Any, *, where: str = "size") -> Number:
    """Parse a byte size: ``512M``, ``2G``, ``1.5G``, ``100KiB``, an int of bytes.

    Units are binary (``1K = 1024``), like Docker and JupyterHub's
    ``ByteSpecification``. ``"unlimited"`` gives :data:`UNLIMITED`.
    """
    if isinstance(value, bool):
        raise QuotaError(f"{where}: {value!r} is not a size; use e.g. {SIZE_EXAMPLE}")
    if isinstance(value, (int, float)):
        if value == UNLIMITED:
            return UNLIMITED
        if value < 0 or math.isnan(value):
            raise QuotaError(f"{where}: {value!r} is negative; use e.g. {SIZE_EXAMPLE}")
        return int(value)
    if isinstance(value, str):
        if value.strip().lower() in _UNLIMITED_WORDS:
            return UNLIMITED
        m = _SIZE_RE.match(value)
        if m:
            return int(float(m["num"]) * _UNIT[m["unit"].lower()])
    raise QuotaError(f"{where}: {value!r} is not a size; use e.g. {SIZE_EXAMPLE}")


def parse_cpu(value: Any, *, where: str = "cpu") -> Number:
    """Parse a CPU amount in cores: ``2``, ``0.5``, ``"1.5"``; ``"unlimited"``."""
    if isinstance(value, str):
        if value.strip().lower() in _UNLIMITED_WORDS:
            return UNLIMITED
        try:
            value = float(value)
        except ValueError:
            raise QuotaError(
                f"{where}: {value!r} is not a number of cores; use e.g. 0.5, 1 or 2"
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise QuotaError(f"{where}: {value!r} is not a number of cores; use e.g. 0.5, 1 or 2")
    if value == UNLIMITED:
        return UNLIMITED
    if not value > 0:
        raise QuotaError(f"{where}: {value!r} must be more than 0 cores; use e.g. 0.5, 1 or 2")
    return float(value)


def parse_count(value: Any, *, where: str = "count") -> Number:
    """Parse a whole positive number (e.g. a PIDs limit); ``"unlimited"``."""
    if isinstance(value, str):
        if value.strip().lower() in _UNLIMITED_WORDS:
            return UNLIMITED
        if value.strip().isdigit():
            value = int(value)
    if isinstance(value, float) and value == UNLIMITED:
        return UNLIMITED
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise QuotaError(f"{where}: {value!r} is not a whole number above 0; use e.g. 256")
    return value


_NUM = r"\d+(?:\.\d+)?"
#: ``90``, ``30m``, ``1.5h``, and :func:`format_duration`'s own ``1h30m`` or ``1d1m1s``
_DURATION_RE = re.compile(
    rf"^\s*(?:(?P<bare>{_NUM})|(?:(?P<d>{_NUM})d)?(?:(?P<h>{_NUM})h)?(?:(?P<m>{_NUM})m)?"
    rf"(?:(?P<s>{_NUM})s)?)\s*$",
    re.IGNORECASE,
)
_SECONDS = {"bare": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION_EXAMPLE = '"30m", "8h", "1d", a number of seconds, or "unlimited" (never)'


def parse_duration(value: Any, *, where: str = "duration") -> Number:
    """Parse a time span in seconds: ``90`` (seconds), ``"30m"``, ``"8h"``, ``"1d"``,
    ``"1h30m"`` (what :func:`format_duration` writes).

    ``"unlimited"`` and 0 give :data:`UNLIMITED` (no such limit: never stopped for it),
    as ``0`` turns jupyterhub-idle-culler's own ``--timeout`` and ``--max-age`` off."""
    if isinstance(value, str):
        if value.strip().lower() in _UNLIMITED_WORDS:
            return UNLIMITED
        m = _DURATION_RE.match(value)
        if not m or not any(m.groupdict().values()):
            raise QuotaError(f"{where}: {value!r} is not a time span; use e.g. {DURATION_EXAMPLE}")
        value = sum(float(n) * _SECONDS[unit] for unit, n in m.groupdict().items() if n)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise QuotaError(f"{where}: {value!r} is not a time span; use e.g. {DURATION_EXAMPLE}")
    if value < 0:
        raise QuotaError(f"{where}: {value!r} is negative; use e.g. {DURATION_EXAMPLE}")
    return UNLIMITED if value in (0, UNLIMITED) else max(1, round(value))


#: JupyterHub's own ``JUPYTERHUB_ACTIVITY_INTERVAL`` (how often a server tells the
#: hub of its last activity, in seconds) and the kit's floor for a short rule
HUB_ACTIVITY_INTERVAL = 300
MIN_ACTIVITY_INTERVAL = 10


def activity_interval(idle_timeout: int | None, configured: int = HUB_ACTIVITY_INTERVAL) -> int:
    """How often a server with this idle rule reports its activity to the hub.

    The culler judges a server by the last activity the hub has heard of, which is
    up to one interval old: a server busy all along but reporting every 300 s would
    be stopped under a 2-minute rule. A rule shorter than four intervals gets a
    quarter of the rule (at least :data:`MIN_ACTIVITY_INTERVAL`); ``0`` or None
    (never, or the culler's own timeout) keeps ``configured``."""
    if not idle_timeout or idle_timeout <= 0:
        return configured
    return max(MIN_ACTIVITY_INTERVAL, min(configured, int(idle_timeout) // 4))


def format_duration(seconds: Number | None) -> str:
    """``1800`` -> ``30m``, ``5400`` -> ``1h30m``; None or 0 -> ``unlimited``."""
    if not seconds or seconds == UNLIMITED:
        return "unlimited"
    out, rest = [], int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out)


def format_size(n: Number | None) -> str:
    """Human form of a byte count, the inverse of :func:`parse_size` (``2G``)."""
    if n is None or n == UNLIMITED:
        return "unlimited"
    n = int(n)
    for unit in "TGMK":
        mult = _UNIT[unit.lower()]
        if n >= mult and (n * 100) % mult == 0:  # at most two decimals
            return f"{n / mult:g}{unit}"
    return str(n)


def approx_size(n: Number | None) -> str:
    """A rounded, human form of a byte count for messages (``974M``, ``1.9G``)."""
    if n is None or n == UNLIMITED:
        return "unlimited"
    for unit in "TGM":
        mult = _UNIT[unit.lower()]
        if n >= mult:
            value = n / mult
            return f"{value:.1f}{unit}" if value < 10 else f"{value:.0f}{unit}"
    return f"{int(n) // 1024}K"


# -- the Quota value -------------------------------------------------------------

_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$")

Labels = tuple[tuple[str, str], ...]
"""Node labels a server must be placed on, as sorted ``(key, value)`` pairs."""


def parse_labels(value: Any, *, where: str = "node_labels") -> Labels:
    """Parse node labels: a mapping ``{"gpu": "yes"}`` (an empty one: any node)."""
    if not isinstance(value, Mapping):
        raise QuotaError(f"{where}: {value!r} is not a mapping of node labels")
    out = []
    for k, v in value.items():
        v = str(v).lower() if isinstance(v, bool) else str(v)
        if not (isinstance(k, str) and _LABEL_RE.match(k) and _LABEL_RE.match(v)):
            raise QuotaError(
                f"{where}: {k!r}: {v!r} is not a node label; keys and values are letters, "
                "digits and . _ / - (up to 63)"
            )
        out.append((k, v))
    return tuple(sorted(out))


#: Placement keys: where a server may run (a swarm's nodes), not how much it gets.
PLACEMENT = ("node_labels",)

#: Resource keys accepted in policies, with their parser and an example value.
RESOURCES: dict[str, tuple[Any, str]] = {
    "mem_limit": (parse_size, '"2G"'),
    "swap_limit": (parse_size, '"0" (no swap) or "1G"'),
    "cpu_limit": (parse_cpu, "1.5"),
    "pids_limit": (parse_count, "256"),
    "disk_limit": (parse_size, '"5G"'),
    "mem_guarantee": (parse_size, '"512M"'),
    "cpu_guarantee": (parse_cpu, "0.5"),
    "node_labels": (parse_labels, '{"gpu": "yes"}'),
    "max_servers": (parse_count, "2"),
    "mem_budget": (parse_size, '"4G"'),
    "cpu_budget": (parse_cpu, "2"),
    "idle_timeout": (parse_duration, '"30m"'),
    "max_age": (parse_duration, '"8h"'),
}

#: Budget keys: they bound the whole user (all their running servers), not one server.
BUDGET = ("max_servers", "mem_budget", "cpu_budget")

#: Lifetime keys: how long a server may stay idle, and at all, before the idle culler
#: stops it (``jhub_kit.idle``). 0 in a :class:`Quota`: never; None: the culler's own.
LIFETIME = ("idle_timeout", "max_age")


@dataclass(frozen=True)
class Quota:
    """The resources one server gets. ``None`` means no limit.

    ``swap_limit`` is swap *in addition to* memory: 0 (the default) means the
    server cannot swap at all, which avoids swap thrashing on a shared host.
    """

    mem_limit: int | None = None
    swap_limit: int | None = 0
    cpu_limit: float | None = None
    pids_limit: int | None = None
    disk_limit: int | None = None
    mem_guarantee: int | None = None
    cpu_guarantee: float | None = None
    node_labels: Labels = ()
    """On a swarm: the server runs only on nodes with all these labels."""
    max_servers: int | None = None
    """The most servers the user may run at once (named servers)."""
    mem_budget: int | None = None
    """The most memory (the sum of ``mem_limit``) across the user's running servers."""
    cpu_budget: float | None = None
    """The most CPU (the sum of ``cpu_limit``) across the user's running servers."""
    idle_timeout: int | None = None
    """Seconds without activity before the idle culler stops the server; 0: never;
    None: the culler's own ``--timeout`` (``c.JhubKit.idle_timeout``)."""
    max_age: int | None = None
    """Seconds after its start the idle culler stops the server, active or not; 0 or
    None: never."""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_state(self) -> dict[str, Any]:
        """A JSON-safe dict (for the hub's database); the inverse of :meth:`from_state`."""
        # the budget bounds the user, not this server: not kept with the server
        out = {k: v for k, v in self.as_dict().items() if v is not None and k not in BUDGET}
        out["node_labels"] = dict(self.node_labels)
        if not self.node_labels:
            del out["node_labels"]
        return out

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> Quota:
        """A Quota from :meth:`to_state`'s dict; unknown keys are an error."""
        names = {f.name: f for f in fields(cls)}
        unknown = set(data) - set(names)
        if unknown:
            raise ValueError(f"unknown quota fields {sorted(unknown)}")
        # state saved before a field existed: that field's default, as for a new Quota
        values: dict[str, Any] = {n: None for n in names}
        values["node_labels"] = ()
        for k, v in data.items():
            if k == "node_labels":
                values[k] = parse_labels(v, where="quota state")
                continue
            if v is not None and not isinstance(v, (int, float)):
                raise ValueError(f"quota field {k}={v!r} is not a number")
            values[k] = v
        return cls(**values)

    def describe(self) -> str:
        """One line for logs and progress messages."""
        parts = [
            f"memory {format_size(self.mem_limit)}",
            f"swap {format_size(self.swap_limit)}",
            f"cpu {'unlimited' if self.cpu_limit is None else f'{self.cpu_limit:g}'}",
            f"pids {'unlimited' if self.pids_limit is None else self.pids_limit}",
            f"disk {format_size(self.disk_limit)}",
        ]
        if self.node_labels:
            parts.append("nodes " + ",".join(f"{k}={v}" for k, v in self.node_labels))
        return ", ".join(parts)


#: the key of the kit's part of a spawner's state (:mod:`jhub_kit.spawners.state`),
#: whose ``quota`` is :meth:`Quota.to_state`'s
STATE_KEY = "jhub_kit"


def read_kit_state(state: Any) -> Mapping[str, Any]:
    """The kit's part of a spawner's ``state`` (``state["jhub_kit"]``), to read; ``{}``
    when ``state`` or that part is missing, empty or not a mapping. ``state`` as the
    hub keeps it: a spawner's, or a server's in the REST model (``server["state"]``,
    read with ``admin:server_state``; None without it)."""
    kit = state.get(STATE_KEY) if isinstance(state, Mapping) else None
    return kit if isinstance(kit, Mapping) else {}


def server_rules(server: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """``(idle_timeout, max_age)`` in seconds kept with a server (the hub's REST model,
    its ``state`` read with ``admin:server_state``; 0: never; None: not set, the
    culler's own). Anything malformed counts as not set. Read by the idle culler's
    arbiter (:mod:`jhub_kit.idle`) and by the notices that warn before it."""
    quota = read_kit_state(server.get("state")).get("quota")
    if not isinstance(quota, Mapping):
        return None, None
    out = []
    for key in ("idle_timeout", "max_age"):
        value = quota.get(key)
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        out.append(value if ok else None)
    return out[0], out[1]


Partial = dict[str, Any]
"""A parsed, partial quota: resource key to number (or UNLIMITED); ``node_labels``
to :data:`Labels`."""


def parse_partial(spec: Mapping[str, Any] | None, *, where: str) -> Partial:
    """Validate and parse one policy entry (``{"mem_limit": "2G", ...}``).

    ``None`` values are skipped (unset). Unknown keys are errors that list
    the valid ones.
    """
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise QuotaError(
            f"{where}: expected a mapping of resources like {{'mem_limit': '2G'}}, "
            f"got {type(spec).__name__}"
        )
    out: Partial = {}
    for key, raw in spec.items():
        if key not in RESOURCES:
            raise QuotaError(
                f"{where}: unknown resource {key!r}; valid keys are {', '.join(RESOURCES)}"
            )
        if raw is None:
            continue
        parser, example = RESOURCES[key]
        try:
            out[key] = parser(raw, where=f"{where}[{key!r}]")
        except QuotaError as e:
            raise QuotaError(f"{e} (example: {key} = {example})") from None
        if key == "mem_limit" and out[key] < MIN_MEMORY:
            raise QuotaError(
                f'{where}[{key!r}]: {raw!r} is below Docker\'s minimum of 6M; use e.g. "512M"'
            )
    return out


def merge_generous(partials: Iterable[Partial]) -> Partial:
    """Merge several partial quotas, keeping the largest value per resource.

    Node labels add up (a user in a ``gpu`` group goes to GPU nodes whatever
    other groups say); two values for one label are an error."""
    out: Partial = {}
    for p in partials:
        for key, value in p.items():
            if key == "node_labels":
                out[key] = _merge_labels(out.get(key, ()), value)
            else:
                out[key] = max(out.get(key, value), value)
    return out


def _merge_labels(a: Labels, b: Labels) -> Labels:
    merged = dict(a)
    for k, v in b:
        if merged.get(k, v) != v:
            raise QuotaError(
                f"the user's groups ask for node label {k} = {merged[k]!r} and {v!r}; "
                "a server runs on one node: give the user node_labels of their own in quota_users"
            )
        merged[k] = v
    return tuple(sorted(merged.items()))


def build_quota(layers: Iterable[Partial]) -> Quota:
    """Overlay partial quotas (later wins) and check the result is coherent."""
    merged: Partial = {}
    for layer in layers:
        merged.update(layer)
    values: dict[str, Any] = {}
    for key in RESOURCES:
        if key not in merged:
            continue
        v = merged[key]
        if key == "node_labels":
            values[key] = v
        elif key in LIFETIME:
            values[key] = 0 if v == UNLIMITED else int(v)  # 0: never, as the culler reads it
        elif v == UNLIMITED:
            values[key] = None
        elif key in ("cpu_limit", "cpu_guarantee", "cpu_budget"):
            values[key] = float(v)
        else:
            values[key] = int(v)
    q = Quota(**values)
    if q.mem_limit is None and q.swap_limit not in (0, None):
        # Docker needs a memory limit to express a swap limit; no memory limit
        # already means "no limit", so drop the meaningless swap limit.
        q = Quota(**{**q.as_dict(), "swap_limit": None})
    if q.mem_guarantee is not None and q.mem_limit is not None and q.mem_guarantee > q.mem_limit:
        raise QuotaError(
            f"mem_guarantee {format_size(q.mem_guarantee)} is above mem_limit "
            f"{format_size(q.mem_limit)}; lower the guarantee or raise the limit"
        )
    if q.cpu_guarantee is not None and q.cpu_limit is not None and q.cpu_guarantee > q.cpu_limit:
        raise QuotaError(
            f"cpu_guarantee {q.cpu_guarantee:g} is above cpu_limit {q.cpu_limit:g}; "
            "lower the guarantee or raise the limit"
        )
    return q


@dataclass
class QuotaPolicy:
    """Defaults, per-group and per-user quota entries, already parsed."""

    defaults: Partial = field(default_factory=dict)
    groups: dict[str, Partial] = field(default_factory=dict)
    users: dict[str, Partial] = field(default_factory=dict)
    profiles: list[Any] | None = None
    """Server profiles (:class:`~.profiles.Profile`) from a policy file; None: none there."""

    @classmethod
    def from_config(
        cls,
        defaults: Mapping[str, Any] | None = None,
        groups: Mapping[str, Mapping[str, Any]] | None = None,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        where: str = "quota policy",
    ) -> QuotaPolicy:
        """Parse raw config (strings like ``"2G"``) into a policy.

        ``where`` prefixes errors, e.g. ``"QuotaDockerSpawner.quota_groups"``.
        """
        return cls(
            defaults=parse_partial(defaults, where=f"{where} defaults"),
            groups={
                str(g): parse_partial(spec, where=f"{where} groups[{g!r}]")
                for g, spec in (groups or {}).items()
            },
            users={
                str(u): parse_partial(spec, where=f"{where} users[{u!r}]")
                for u, spec in (users or {}).items()
            },
        )

    def overlay(self, other: QuotaPolicy) -> QuotaPolicy:
        """A policy where ``other``'s entries win, key by key."""
        groups = {g: dict(p) for g, p in self.groups.items()}
        for g, p in other.groups.items():
            groups.setdefault(g, {}).update(p)
        users = {u: dict(p) for u, p in self.users.items()}
        for u, p in other.users.items():
            users.setdefault(u, {}).update(p)
        profiles = self.profiles if other.profiles is None else other.profiles
        return QuotaPolicy({**self.defaults, **other.defaults}, groups, users, profiles)

    def resolve(
        self,
        username: str,
        groups: Iterable[str] = (),
        *,
        extra: Partial | None = None,
        lower_only: Partial | None = None,
    ) -> Quota:
        """The quota for ``username`` who is in ``groups``.

        ``extra`` is the highest layer (e.g. a per-user callable's result);
        ``lower_only`` holds requests that may only lower a limit (user_options).
        """
        group_layer = merge_generous(
            self.groups[g] for g in sorted(set(groups)) if g in self.groups
        )
        layers = [self.defaults, group_layer, self.users.get(username, {}), extra or {}]
        if lower_only:
            current: Partial = {}
            for layer in layers:
                current.update(layer)
            layers.append(
                {
                    k: min(v, current.get(k, UNLIMITED))
                    for k, v in lower_only.items()
                    if k not in PLACEMENT
                }
            )
        return build_quota(layers)
