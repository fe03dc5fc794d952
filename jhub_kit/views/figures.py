"""The figures a student and their teacher both see of a server, made one way.

The student's quota panel (:mod:`.student`) and the class dashboard
(:mod:`.dashboard.rows`) show the same home: how much is used, of what, how
full. Both call :func:`home_use` on the same measure (the spawner's last
:class:`~jhub_kit.provision.Usage`, which the dashboard reads back from the
server's state with ``Usage.from_state``), so the two pages cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..provision import Usage
from ..quota.policy import approx_size, format_size


@dataclass(frozen=True)
class HomeUse:
    """A home as people are shown it."""

    #: bytes used when measured (None: not measured, the server is not running)
    used: int | None
    #: "72K", "at least 3.0G" (a measure stopped early), "" when not measured
    used_text: str
    #: what the home may hold: the quota's size (what was promised), else the
    #: filesystem's own; "unlimited" when neither is known
    limit_text: str
    #: used of the filesystem's size, 0 to 100 (None when no size is known)
    percent: int | None
    #: why nothing more fits ("space", "files"), "" when something does
    full: str


def home_use(disk_limit: int | None, usage: Usage | None) -> HomeUse | None:
    """The home of a server whose quota sets ``disk_limit`` (bytes, None: no limit),
    as last measured (``usage``, None: not running); None when there is nothing
    to show (no measure and no limit)."""
    # the quota's size is what the student was promised; the filesystem's own size
    # (a little less: its metadata) is what "full" is measured against
    capacity = usage.limit if usage and usage.limit else None
    limit = disk_limit or capacity
    if usage is None:
        return HomeUse(None, "", format_size(limit), None, "") if limit else None
    capacity = capacity or limit
    percent = min(100, round(100 * usage.used / capacity)) if capacity else None
    if usage.full == "space":
        percent = 100  # what the student can write: ext4 keeps blocks of its own
    at_least = "at least " if usage.partial else ""
    return HomeUse(
        usage.used, f"{at_least}{approx_size(usage.used)}", format_size(limit), percent, usage.full
    )
