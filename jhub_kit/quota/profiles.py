"""Server profiles: the kinds of server a user may pick, each with its own image and
quota, and the ceiling a user's groups put on what a profile may ask for.

Pure logic, no I/O: :func:`parse_profiles` reads ``profile_list`` (KubeSpawner's
vocabulary where it means the same: ``display_name``, ``description``, ``slug``,
``default``) and :func:`choose` picks the user's profile from ``user_options``,
refusing in words (:class:`ProfileRefused`, HTTP 400 at the hub) what the user may
not use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .policy import (
    BUDGET,
    PLACEMENT,
    RESOURCES,
    UNLIMITED,
    Partial,
    QuotaError,
    format_size,
    merge_generous,
    parse_partial,
)

#: a profile's own keys (beside the quota keys, :data:`~.policy.RESOURCES`)
PROFILE_KEYS = (
    "display_name",
    "description",
    "slug",
    "default",
    "image",
    "allowed_groups",
    "spawner_override",
    "pool_size",
)

#: KubeSpawner keys a Z2JH user may bring, and what to write instead
_KUBESPAWNER_KEYS = {
    "kubespawner_override": "spawner_override",
    "profile_options": "one profile per choice (profile_options is not supported)",
}

#: traits a profile sets at its top level, not through spawner_override
_NOT_OVERRIDES = {*RESOURCES, "image", "user_options", "allowed_images"}

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class ProfileError(QuotaError):
    """``profile_list`` is invalid (the admin's to fix); the message says how."""


class ProfileRefused(Exception):
    """The user asked for a profile they may not use (the user's to change)."""


@dataclass(frozen=True)
class Profile:
    """One kind of server."""

    slug: str
    display_name: str
    description: str = ""
    default: bool = False
    image: str | None = None
    quota: Partial = field(default_factory=dict)
    """Quota keys, parsed (:func:`~.policy.parse_partial`): this profile's layer."""
    allowed_groups: tuple[str, ...] = ()
    """Groups whose members may pick it; empty: everyone."""
    spawner_override: Mapping[str, Any] = field(default_factory=dict)
    pool_size: int = 0
    """Warm servers of this profile the pool keeps (beside ``pool_size``'s)."""

    def open_to(self, groups: Iterable[str]) -> bool:
        return not self.allowed_groups or bool(set(self.allowed_groups) & set(groups))

    def limits_text(self) -> str:
        """Its quota in words for the spawn page (``memory 2G, 1 CPU, disk 5G``)."""
        return limits_text(self.quota)


def slugify(name: str) -> str:
    """A slug from a display name, as KubeSpawner makes one (lowercase, ``-``)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]


def parse_profiles(raw: Any, *, where: str) -> list[Profile]:
    """Validate ``profile_list`` (a list of mappings); errors name ``where``, the
    profile and the fix."""
    if raw is None:
        return []
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence):
        raise ProfileError(
            f"{where}: expected a list of profiles like "
            '[{"display_name": "Python", "mem_limit": "2G"}], '
            f"got {type(raw).__name__}"
        )
    out: list[Profile] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        profile = _parse_one(entry, where=f"{where}[{i}]")
        if profile.slug in seen:
            raise ProfileError(
                f"{where}[{i}]: slug {profile.slug!r} is used twice; give each profile its own"
            )
        seen.add(profile.slug)
        out.append(profile)
    defaults = [p.slug for p in out if p.default]
    if len(defaults) > 1:
        raise ProfileError(
            f"{where}: profiles {', '.join(defaults)} all say default: True; keep it on one"
        )
    return out


def _parse_one(entry: Any, *, where: str) -> Profile:
    if not isinstance(entry, Mapping):
        raise ProfileError(f"{where}: expected a mapping, got {type(entry).__name__}")
    for key in entry:
        if key in BUDGET:
            raise ProfileError(
                f"{where}: {key} bounds the whole user, not one server; set it in "
                "quota_groups or quota_users"
            )
        if key in _KUBESPAWNER_KEYS:
            raise ProfileError(f"{where}: {key!r} is KubeSpawner's; use {_KUBESPAWNER_KEYS[key]}")
        if key not in PROFILE_KEYS and key not in RESOURCES:
            raise ProfileError(
                f"{where}: unknown key {key!r}; valid keys are "
                f"{', '.join(PROFILE_KEYS)} and the quota keys {', '.join(RESOURCES)}"
            )
    name = entry.get("display_name")
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f'{where}: display_name is required, e.g. "Python (2G)"')
    slug = entry.get("slug")
    if slug is None:
        slug = slugify(name)
    if not isinstance(slug, str) or not _SLUG_RE.match(slug):
        raise ProfileError(
            f"{where}: slug {slug!r} must be lowercase letters, digits, '.', '_' or '-' "
            '(at most 63), e.g. "python"'
        )
    where = f"{where} ({slug})"
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise ProfileError(f"{where}: description must be text")
    default = entry.get("default", False)
    if not isinstance(default, bool):
        raise ProfileError(f"{where}: default must be True or False")
    image = entry.get("image")
    if image is not None and (not isinstance(image, str) or not image.strip()):
        raise ProfileError(
            f'{where}: image must be an image name, e.g. "quay.io/jupyter/r-notebook"'
        )
    groups = entry.get("allowed_groups", ())
    if isinstance(groups, str) or not isinstance(groups, (list, tuple, set, frozenset)):
        raise ProfileError(
            f'{where}: allowed_groups must be a list of group names, e.g. ["teachers"]'
        )
    if not all(isinstance(g, str) and g for g in groups):
        raise ProfileError(f"{where}: allowed_groups must hold group names (text)")
    pool_size = entry.get("pool_size", 0)
    if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 0:
        raise ProfileError(
            f"{where}: pool_size must be a whole number of warm servers (0: none), e.g. 10"
        )
    override = entry.get("spawner_override", {})
    if not isinstance(override, Mapping):
        raise ProfileError(
            f'{where}: spawner_override must map trait names to values, e.g. {{"cmd": [...]}}'
        )
    for key in override:
        if key in _NOT_OVERRIDES:
            raise ProfileError(
                f"{where}: spawner_override sets {key!r}; write it at the profile's top level "
                f"({key}: ...), where the kit checks it against the user's ceiling"
                if key in RESOURCES
                else f"{where}: spawner_override may not set {key!r}"
                + ("; write image at the profile's top level" if key == "image" else "")
            )
    try:
        quota = parse_partial({k: v for k, v in entry.items() if k in RESOURCES}, where=where)
    except ProfileError:
        raise
    except QuotaError as e:
        raise ProfileError(str(e)) from None
    return Profile(
        slug=slug,
        display_name=name.strip(),
        description=description,
        default=default,
        image=None if image is None else image.strip(),
        quota=quota,
        allowed_groups=tuple(sorted(set(groups))),
        spawner_override=dict(override),
        pool_size=pool_size,
    )


def merge_profiles(base: Sequence[Profile], overlay: Sequence[Profile]) -> list[Profile]:
    """``base`` with ``overlay``'s profiles in place of those with the same slug, and
    its new ones after (the live policy file's profiles over ``profile_list``)."""
    by_slug = {p.slug: p for p in overlay}
    out = [by_slug.pop(p.slug, p) for p in base]
    out.extend(p for p in overlay if p.slug in by_slug)
    if sum(p.default for p in out) > 1:  # the overlay's default wins
        new_default = next((p.slug for p in overlay if p.default), None)
        out = [
            p
            if not p.default or p.slug == new_default
            else Profile(**{**p.__dict__, "default": False})
            for p in out
        ]
    return out


def user_ceiling(
    default: Partial, groups: Mapping[str, Partial], user_groups: Iterable[str]
) -> Partial:
    """The most a profile may give this user: the most generous of their groups'
    ceilings (a group entry replaces the default key by key, as quota_groups do)."""
    merged = merge_generous(groups[g] for g in sorted(set(user_groups)) if g in groups)
    return {**default, **merged}


def over_ceiling(profile: Profile, ceiling: Partial) -> list[str]:
    """What in ``profile``'s quota lies above ``ceiling``, in words (empty: within)."""
    out = []
    for key, value in profile.quota.items():
        if key in PLACEMENT or key not in ceiling:
            continue
        if value > ceiling[key]:
            out.append(
                f"{_word(key)} {_amount(key, value)} (your most is {_amount(key, ceiling[key])})"
            )
    return out


def visible(profiles: Sequence[Profile], groups: Iterable[str], ceiling: Partial) -> list[Profile]:
    """The profiles this user may pick: open to one of their groups, within their ceiling."""
    groups = list(groups)
    return [p for p in profiles if p.open_to(groups) and not over_ceiling(p, ceiling)]


def choose(
    profiles: Sequence[Profile],
    options: Mapping[str, Any] | None,
    groups: Iterable[str],
    ceiling: Partial,
) -> Profile | None:
    """The profile ``options`` (``user_options``) asks for, or the user's default.

    None when there are no profiles. :class:`ProfileRefused` for an unknown slug, a
    profile not open to the user's groups or over their ceiling, or none open."""
    if not profiles:
        return None
    groups = list(groups)
    slug = (options or {}).get("profile")
    mine = visible(profiles, groups, ceiling)
    if slug is None or slug == "":
        if not mine:
            raise ProfileRefused(
                "No server profile is open to you; ask your teacher or administrator to add "
                "you to a group that may use one."
            )
        return next((p for p in mine if p.default), mine[0])
    names = ", ".join(p.slug for p in mine) or "none"
    if not isinstance(slug, str):
        raise ProfileRefused(f"profile must be the name of a profile; yours: {names}")
    found = next((p for p in profiles if p.slug == slug), None)
    if found is None:
        raise ProfileRefused(f"There is no profile {slug!r}; you may choose: {names}.")
    if not found.open_to(groups):
        raise ProfileRefused(
            f"The profile {slug!r} is for the group(s) {', '.join(found.allowed_groups)}, "
            f"and you are not in them; you may choose: {names}."
        )
    over = over_ceiling(found, ceiling)
    if over:
        raise ProfileRefused(
            f"The profile {slug!r} asks for more than your groups allow: {'; '.join(over)}. "
            f"You may choose: {names}."
        )
    return found


def _word(key: str) -> str:
    return {
        "mem_limit": "memory",
        "swap_limit": "swap",
        "cpu_limit": "CPU",
        "pids_limit": "processes",
        "disk_limit": "disk",
        "mem_guarantee": "guaranteed memory",
        "cpu_guarantee": "guaranteed CPU",
    }.get(key, key)


def _amount(key: str, value: Any) -> str:
    if value == UNLIMITED:
        return "unlimited"
    if key in ("cpu_limit", "cpu_guarantee"):
        return f"{value:g} CPU" if value == 1 else f"{value:g} CPUs"
    if key == "pids_limit":
        return str(int(value))
    return format_size(value)


def limits_text(quota: Partial) -> str:
    """A partial quota in words, the spawn page's way: ``memory 2G, 1 CPU, disk 5G``."""
    parts = []
    for key in ("mem_limit", "cpu_limit", "disk_limit", "pids_limit"):
        if key in quota:
            value = _amount(key, quota[key])
            parts.append(value if key == "cpu_limit" else f"{_word(key)} {value}")
    return ", ".join(parts)
