"""A teacher's "more idle time for today", written to the extensions file.

The file (:func:`jhub_kit.quota.extensions.extensions_file_for`: beside the teachers'
audit log, in the folder the hub gives the dashboard's user) is read by the idle
culler's arbiter and the student's hub page. It is rewritten whole
(:func:`jhub_kit.files.atomic_write`, mode 0644: the hub and the culler read it)
under the same kind of lock as the policy file (:func:`jhub_kit.files.locked`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from ...files import atomic_write, locked
from ...quota.extensions import end_of_day, extend, read_extensions


def extend_for_today(path: str, users: Iterable[str], by: str) -> datetime:
    """Lift the idle timeout of ``users`` until the end of today (the hub's local
    time); returns that time. Raises OSError when the file cannot be written."""
    now = datetime.now(timezone.utc)
    until = end_of_day(now)
    target = Path(path)
    with locked(target):
        data = extend(read_extensions(path), users, until, by, now)
        atomic_write(target, json.dumps(data, indent=1) + "\n", 0o644)
    return until
