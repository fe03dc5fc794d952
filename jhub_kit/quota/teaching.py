"""What a teacher may do to their students' servers, as data: the JupyterHub roles
that give it, the check of a caller's scopes, and a change of limits.

Pure: nothing here reads a file or asks the hub.

A teacher is given JupyterHub scopes filtered to the groups they teach
(``servers!group=physics-101``), never admin over the hub. The roles come from
the course declaration (``c.Courses.courses``: each course's teachers over its
students) and from ``c.JhubKit.teachers`` (a teacher's name to the groups they
teach): :func:`teacher_roles`. The class dashboard checks each action against
the caller's own scopes (:func:`may_act_on_user`, :func:`may_act_on_group`),
and a change of limits is an edit of the live policy file's data
(:func:`change_limits`) within the admin's ceiling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..names import safe_name
from .courses import Course
from .policy import (
    UNLIMITED,
    QuotaError,
    format_duration,
    format_size,
    parse_cpu,
    parse_duration,
    parse_size,
)

#: JupyterHub custom scope for changing a student's limits (the kit's own; the
#: hub knows it from ``c.JupyterHub.custom_scopes``, the dashboard checks it)
LIMITS_SCOPE = "custom:jhub-kit:limits"

#: what a teacher is given over each group they teach (JupyterHub's own scopes,
#: checked against jupyterhub/scopes.py of 5.4 to 6.1, and the kit's limits scope)
TEACHER_SCOPES = (
    "read:users",  # names, groups, activity, servers of their students
    "list:users",
    "servers",  # start and stop their students' servers (read, start, delete)
    "access:servers",  # open a student's server to help them
    LIMITS_SCOPE,  # raise or lower a student's memory, CPU and home size
)

#: what each action of the dashboard needs of the caller, on the student or group:
#: ``open`` a student's server to help them (JupyterHub's own ``access:servers``,
#: which the hub checks again when the teacher's browser opens ``/user/NAME/``);
#: ``extend`` the idle time for today (like a change of ``idle_timeout``)
ACTION_SCOPES = {
    "stop": "delete:servers",
    "start": "servers",
    "limits": LIMITS_SCOPE,
    "open": "access:servers",
    "extend": LIMITS_SCOPE,
}

#: the limits a teacher may change, each with how a value is read
LIMIT_KEYS = ("mem_limit", "cpu_limit", "disk_limit", "idle_timeout")

ROLE_PREFIX = "class-dashboard-teacher"


def _role_name(kind: str, name: str) -> str:
    # JupyterHub role names: lowercase letters, digits, '-', '_', '~', '.'
    return f"{ROLE_PREFIX}-{kind}-{safe_name(name, 40)}"


def group_scopes(groups: Iterable[str], users: Iterable[str] = ()) -> list[str]:
    """:data:`TEACHER_SCOPES` filtered to ``groups`` (and single ``users``)."""
    filters = [f"group={g}" for g in sorted(set(groups))]
    filters += [f"user={u}" for u in sorted(set(users))]
    return [f"{s}!{f}" for f in filters for s in TEACHER_SCOPES]


def teacher_roles(
    teachers: Mapping[str, Iterable[str]], courses: Mapping[str, Course] | None = None
) -> list[dict[str, Any]]:
    """JupyterHub roles (``c.JupyterHub.load_roles`` entries) for every teacher:
    one per entry of ``teachers`` (a username to the groups they teach) and one
    per course (its teachers, users and groups, over its students)."""
    roles = []
    for teacher, groups in sorted(teachers.items()):
        if isinstance(groups, str):
            raise QuotaError(
                f"JhubKit.teachers[{teacher!r}]: expected a list of groups, got {groups!r}"
            )
        groups = list(groups)
        if not groups:
            continue
        roles.append(
            {
                "name": _role_name("user", teacher),
                "description": f"{teacher} teaches {', '.join(sorted(groups))}",
                "scopes": group_scopes(groups),
                "users": [teacher],
            }
        )
    for course in sorted((courses or {}).values(), key=lambda c: c.name):
        scopes = group_scopes(course.students.groups, course.students.users)
        role: dict[str, Any] = {
            "name": _role_name("course", course.name),
            "description": f"The teachers of {course.name}, over its students",
            "scopes": scopes,
        }
        if course.teachers.users:
            role["users"] = sorted(course.teachers.users)
        if course.teachers.groups:
            role["groups"] = sorted(course.teachers.groups)
        roles.append(role)
    return roles


def _filters(scopes: Iterable[str], needed: str) -> tuple[bool, set[str], set[str]]:
    """(unfiltered?, groups, users) for which ``scopes`` hold ``needed``."""
    everything, groups, users = False, set(), set()
    for scope in scopes:
        base, _, filter_ = scope.partition("!")
        if base != needed:
            continue
        kind, _, value = filter_.partition("=")
        if not filter_:
            everything = True
        elif kind == "group":
            groups.add(value)
        elif kind == "user":
            users.add(value)
    return everything, groups, users


def may_act_on_user(scopes: Iterable[str], needed: str, user: str, groups: Iterable[str]) -> bool:
    """Whether the (expanded) ``scopes`` of a caller hold ``needed`` for ``user``,
    a member of ``groups``: unfiltered (an admin), for the user, or for one of
    their groups. A ``!server=`` filter is not enough: the action is on the user."""
    everything, on_groups, on_users = _filters(scopes, needed)
    return everything or user in on_users or not on_groups.isdisjoint(groups)


def may_act_on_group(scopes: Iterable[str], needed: str, group: str) -> bool:
    """Whether ``scopes`` hold ``needed`` for the whole of ``group`` (a scope on
    some of its members is not enough)."""
    everything, on_groups, _ = _filters(scopes, needed)
    return everything or group in on_groups


def visible_records(
    scopes: Iterable[str],
    records: Iterable[Mapping[str, Any]],
    groups_of: Mapping[str, Iterable[str]],
) -> list[Mapping[str, Any]]:
    """The audit ``records`` a caller with ``scopes`` may read: those about a student
    (``user:NAME``, a member of ``groups_of[NAME]``) or a group (``group:NAME``) the
    caller holds one of the actions' scopes on. An admin (unfiltered) reads all; a
    teacher, the records of the groups they teach; a record of anything else (a
    student no longer in the hub, a malformed target) is an admin's only."""
    scopes = set(scopes)
    needed = sorted(set(ACTION_SCOPES.values()))
    if any(_filters(scopes, n)[0] for n in needed):
        return list(records)
    out = []
    for record in records:
        kind, _, name = str(record.get("target", "")).partition(":")
        if kind == "user" and name in groups_of:
            member_of = list(groups_of[name])
            ok = any(may_act_on_user(scopes, n, name, member_of) for n in needed)
        elif kind == "group" and name:
            ok = any(may_act_on_group(scopes, n, name) for n in needed)
        else:
            ok = False
        if ok:
            out.append(record)
    return out


@dataclass(frozen=True)
class Change:
    """One limit changed: where in the policy (``users`` or ``groups``), whose, which
    limit, the value before (None: not set there) and after (None: removed)."""

    section: str
    name: str
    key: str
    old: Any
    new: Any

    def record(self) -> dict[str, Any]:
        return {
            "target": f"{'user' if self.section == 'users' else 'group'}:{self.name}",
            "limit": self.key,
            "old": self.old,
            "new": self.new,
        }


def parse_limit(key: str, value: Any, *, where: str) -> float:
    if key not in LIMIT_KEYS:
        raise QuotaError(f"{where}: {key!r} cannot be changed here; use {', '.join(LIMIT_KEYS)}")
    if key == "cpu_limit":
        return float(parse_cpu(value, where=where))
    if key == "idle_timeout":  # more time before the idle culler stops the server
        return float(parse_duration(value, where=where))
    return float(parse_size(value, where=where))


def check_ceiling(ceiling: Mapping[str, Any], key: str, value: Any, *, where: str) -> None:
    """Refuse ``value`` above the admin's ceiling for ``key`` (a limit without a
    ceiling may not be changed by a teacher at all)."""
    if key not in ceiling:
        raise QuotaError(f"{where}: the admin set no ceiling for {key}; it cannot be changed")
    if value is None:
        return  # removing an override goes back to what the admin set
    if parse_limit(key, value, where=where) == UNLIMITED:
        raise QuotaError(f"{where}: {key} cannot be unlimited; at most {ceiling[key]}")
    top = parse_limit(key, ceiling[key], where="the ceiling")
    if parse_limit(key, value, where=where) > top:
        shown = (
            ceiling[key]
            if key == "cpu_limit"
            else format_duration(top)
            if key == "idle_timeout"
            else format_size(top)
        )
        raise QuotaError(f"{where}: {key} {value} is above the ceiling of {shown}")


def change_limits(
    data: dict[str, Any],
    section: str,
    name: str,
    limits: Mapping[str, Any],
    ceiling: Mapping[str, Any],
) -> tuple[dict[str, Any], list[Change]]:
    """The policy file's ``data`` (its parsed sections) with ``limits`` set for
    ``name`` in ``section`` (``"users"`` or ``"groups"``), and what changed.
    A value of None removes that override. Other sections and keys are kept.
    Raises :class:`QuotaError` on a bad value or one above ``ceiling``."""
    if section not in ("users", "groups"):
        raise QuotaError(f"section {section!r}: use users or groups")
    if not limits:
        raise QuotaError(f"no limit to change; give one of {', '.join(LIMIT_KEYS)}")
    where = f"[{section}.{name}]"
    for key, value in limits.items():
        if key not in LIMIT_KEYS:
            raise QuotaError(f"{where}: {key!r} cannot be changed; use {', '.join(LIMIT_KEYS)}")
        if value is not None:
            parse_limit(key, value, where=f"{where} {key}")
        check_ceiling(ceiling, key, value, where=f"{where} {key}")
    out = dict(data)
    entries = dict(out.get(section) or {})
    entry = dict(entries.get(name) or {})
    changes = []
    for key, value in limits.items():
        old = entry.get(key)
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
        if old != value:
            changes.append(Change(section, name, key, old, value))
    if entry:
        entries[name] = entry
    else:
        entries.pop(name, None)
    out[section] = entries
    return out, changes
