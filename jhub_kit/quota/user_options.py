"""What a student may ask for in ``user_options``: less than the administrator gave
them, never more. Pure: :func:`bound_requests` checks the quota keys of one start's
``user_options`` against the quota resolved for it (defaults, groups, user, profile)
and the profile ceiling, and says in words what is refused.

Rules, key by key:

* a limit (``mem_limit``, ``cpu_limit``, ``swap_limit``, ``pids_limit``,
  ``disk_limit``) may be lowered or kept; above what the student has (or above the
  ceiling, where the student has no limit) it is refused;
* a guarantee (``mem_guarantee``, ``cpu_guarantee``) may be lowered or kept where the
  administrator set one; where none is set it may not be asked for;
* the budget keys bound the user, not a server: a student never sets them;
* ``node_labels`` (where a server runs) is not the student's either: it is left out
  here (the spawner never reads it from ``user_options``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .policy import (
    BUDGET,
    LIFETIME,
    PLACEMENT,
    RESOURCES,
    UNLIMITED,
    Partial,
    Quota,
    QuotaError,
    format_size,
    parse_partial,
)

#: Keys a student may only lower where the administrator set them.
GUARANTEES = ("mem_guarantee", "cpu_guarantee")

#: Every quota key a student may send in ``user_options`` (not how long the server
#: may live: the idle rules are the teacher's and the admin's).
REQUESTABLE = tuple(
    k for k in RESOURCES if k not in PLACEMENT and k not in BUDGET and k not in LIFETIME
)

#: The quota keys the kit reads from ``user_options`` (to apply or to refuse).
KIT_KEYS = (*REQUESTABLE, *BUDGET, *LIFETIME)

_WORDS = {
    "mem_limit": "memory limit",
    "swap_limit": "swap",
    "cpu_limit": "CPU limit",
    "pids_limit": "process limit",
    "disk_limit": "disk space",
    "mem_guarantee": "memory guarantee",
    "cpu_guarantee": "CPU guarantee",
}


class RequestRefused(QuotaError):
    """A student asked for more than they may have; the message is for them."""


def show(key: str, value: float | int | None) -> str:
    """``value`` of ``key`` as a student reads it (``2G``, ``1.5``, ``256``)."""
    if value is None or value == UNLIMITED:
        return "unlimited"
    if key.startswith("cpu"):
        return f"{value:g}"
    if key == "pids_limit":
        return str(int(value))
    return format_size(value)


def requested(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The quota keys of ``options`` (raw), the budget and lifetime keys among them."""
    return {k: v for k, v in (options or {}).items() if k in KIT_KEYS}


def bound_requests(
    options: Mapping[str, Any] | None, quota: Quota, ceiling: Partial | None = None
) -> Partial:
    """The student's quota requests in ``options``, parsed, if each is within what
    they have (``quota``, resolved without the requests) and the ``ceiling``; else
    :class:`RequestRefused` naming the key, the value asked for and the most allowed.
    A malformed value is refused too (a :class:`QuotaError` in words)."""
    raw = requested(options)
    budget = [k for k in raw if k in BUDGET]
    if budget:
        raise RequestRefused(
            f"{budget[0]} is your administrator's to set (it bounds all your servers "
            "together); leave it out of your server's options."
        )
    lifetime = [k for k in raw if k in LIFETIME]
    if lifetime:
        raise RequestRefused(
            f"{lifetime[0]} (how long your server may run or stay idle) is set by your "
            "teacher or administrator; leave it out of your server's options."
        )
    asked = parse_partial(raw, where="user_options")
    ceiling = ceiling or {}
    for key, value in asked.items():
        have = getattr(quota, key)
        top = UNLIMITED if have is None else have
        if key in ceiling:
            top = min(top, ceiling[key])
        if key in GUARANTEES and have is None:
            raise RequestRefused(
                f"You asked for a {_WORDS[key]} ({key} = {show(key, value)}), but none is "
                f"set for you, so you may not ask for one; leave {key} out."
            )
        if value > top:
            raise RequestRefused(
                f"You asked for {key} = {show(key, value)}, above the most you may have "
                f"({show(key, top)}); ask for {show(key, top)} or less."
            )
    return asked
