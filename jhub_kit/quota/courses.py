"""Courses: who teaches and who takes each course, declared once, as data.

Declared in the hub's config (``c.Courses.courses``)::

    c.Courses.courses = {
        "physics-101": {
            "teachers": {"users": ["ada"], "groups": ["physics-staff"]},
            "students": {"groups": ["physics-101"]},
            "size_limit": "2G",
        },
    }

Pure: nothing here reads a file or asks the hub. :func:`parse_courses` checks a
declaration and names what to fix; :func:`courses_of` says which courses a user
is in and as what; :func:`students_of` lists a course's students among the
hub's users. Usernames are compared lowercased (as the kit's CLI and userlist
normalize them); group names exactly, as JupyterHub stores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from traitlets import Dict, TraitError, validate
from traitlets.config import Configurable

from ..names import MAX_LENGTH, is_safe, safe_name
from .policy import UNLIMITED, QuotaError, format_size, parse_size

TEACHER = "teacher"
STUDENT = "student"

_COURSE_KEYS = ("teachers", "students", "size_limit")
_MEMBER_KEYS = ("users", "groups")

EXAMPLE = (
    '{"physics-101": {"teachers": {"users": ["ada"], "groups": ["physics-staff"]}, '
    '"students": {"groups": ["physics-101"]}, "size_limit": "2G"}}'
)


@dataclass(frozen=True)
class Members:
    """Users named one by one and groups whose members all belong."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.users or self.groups)

    def has(self, user: str, groups: Iterable[str]) -> bool:
        return user.lower() in self.users or not self.groups.isdisjoint(groups)

    def describe(self) -> str:
        parts = sorted(self.users) + [f"group:{g}" for g in sorted(self.groups)]
        return ", ".join(parts) or "nobody"


@dataclass(frozen=True)
class Course:
    """One course: its name (safe for paths), its teachers (read-write in the
    course folder), its students (read-only) and the folder's size limit in bytes
    (None: no limit)."""

    name: str
    teachers: Members
    students: Members
    size_limit: int | None = None
    # not compared: the declaration's own words, for messages
    where: str = field(default="", compare=False)

    def role_of(self, user: str, groups: Iterable[str]) -> str | None:
        """``"teacher"``, ``"student"`` or None. A user who is both (a teaching
        assistant in the students' group, say) is a teacher: write wins."""
        groups = frozenset(groups)
        if self.teachers.has(user, groups):
            return TEACHER
        if self.students.has(user, groups):
            return STUDENT
        return None

    def describe(self) -> str:
        return (
            f"{self.name}: teachers {self.teachers.describe()}; students "
            f"{self.students.describe()}; size limit {format_size(self.size_limit)}"
        )


def _names(value: Any, *, where: str, lower: bool) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise QuotaError(f"{where}: expected a list of names, got {value!r}")
    out = set()
    for item in value:
        if not isinstance(item, str) or not item.strip() or item != item.strip():
            raise QuotaError(f"{where}: {item!r} is not a name (a non-empty string, no spaces)")
        if "/" in item or "\0" in item:
            raise QuotaError(f"{where}: {item!r} cannot contain '/' or NUL")
        out.add(item.lower() if lower else item)
    return frozenset(out)


def _members(value: Any, *, where: str) -> Members:
    if not isinstance(value, Mapping):
        raise QuotaError(f'{where}: expected {{"users": [...], "groups": [...]}}, got {value!r}')
    unknown = sorted(str(k) for k in value if k not in _MEMBER_KEYS)
    if unknown:
        raise QuotaError(
            f"{where}: unknown key(s) {', '.join(unknown)}; use {' and '.join(_MEMBER_KEYS)}"
        )
    members = Members(
        users=_names(value.get("users", []), where=f"{where}.users", lower=True),
        groups=_names(value.get("groups", []), where=f"{where}.groups", lower=False),
    )
    if not members:
        raise QuotaError(f"{where}: names no users and no groups")
    return members


def parse_course(name: Any, value: Any, *, where: str = "Courses.courses") -> Course:
    """One course from its declaration; :class:`QuotaError` names what to fix."""
    here = f"{where}[{name!r}]"
    if not isinstance(name, str) or not is_safe(name):
        suggestion = f" (e.g. {safe_name(name)!r})" if isinstance(name, str) and name else ""
        raise QuotaError(
            f"{where}: course name {name!r} is not safe in paths: use lowercase letters, "
            f"digits and single '-' inside, at most {MAX_LENGTH} characters{suggestion}"
        )
    if not isinstance(value, Mapping):
        raise QuotaError(f"{here}: expected a mapping like {EXAMPLE}")
    unknown = sorted(str(k) for k in value if k not in _COURSE_KEYS)
    if unknown:
        raise QuotaError(
            f"{here}: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(_COURSE_KEYS)}"
        )
    missing = [k for k in _COURSE_KEYS if k not in value]
    if missing:
        raise QuotaError(f"{here}: missing {', '.join(missing)} (e.g. {EXAMPLE})")
    size = parse_size(value["size_limit"], where=f"{here}.size_limit")
    if size == 0:
        raise QuotaError(f'{here}.size_limit: 0 bytes holds nothing; use e.g. "2G"')
    return Course(
        name=name,
        teachers=_members(value["teachers"], where=f"{here}.teachers"),
        students=_members(value["students"], where=f"{here}.students"),
        size_limit=None if size == UNLIMITED else int(size),
        where=here,
    )


def parse_courses(value: Any, *, where: str = "Courses.courses") -> dict[str, Course]:
    """Every course of a declaration (course name to its declaration), by name."""
    if not isinstance(value, Mapping):
        raise QuotaError(f"{where}: expected a mapping of course names, like {EXAMPLE}")
    return {c.name: c for c in (parse_course(k, v, where=where) for k, v in value.items())}


def courses_of(
    courses: Mapping[str, Course] | Iterable[Course], user: str, groups: Iterable[str]
) -> list[tuple[Course, str]]:
    """The courses ``user`` (in ``groups``) is in, by name, each with their role."""
    found = courses.values() if isinstance(courses, Mapping) else courses
    groups = frozenset(groups)
    out = []
    for course in sorted(found, key=lambda c: c.name):
        role = course.role_of(user, groups)
        if role is not None:
            out.append((course, role))
    return out


def students_of(course: Course, users: Mapping[str, Iterable[str]]) -> list[str]:
    """The course's students among ``users`` (username to their groups), sorted;
    its teachers are not among them."""
    return sorted(u for u, g in users.items() if course.role_of(u, g) == STUDENT)


def teachers_of(course: Course, users: Mapping[str, Iterable[str]]) -> list[str]:
    """The course's teachers among ``users``, sorted."""
    return sorted(u for u, g in users.items() if course.role_of(u, g) == TEACHER)


class Courses(Configurable):
    """The hub's courses. The same declaration serves the servers (which course
    folders a user's server gets) and ``jhub-kit course`` (the end of term)."""

    courses = Dict(
        help=f"""Each course of the hub: its name (lowercase letters, digits and
        ``-``: it names the course's folder), its ``teachers`` and ``students``
        (each ``{{"users": [...], "groups": [...]}}``: JupyterHub groups, such as
        the userlist's ``group:`` words or a CSV import's group column) and the
        ``size_limit`` of its folder (``"2G"``, ``"500M"`` or ``"unlimited"``).
        A user may be in several courses; one who is both teacher and student of
        a course is its teacher. Example::

            c.Courses.courses = {EXAMPLE}

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    @validate("courses")
    def _check_courses(self, proposal: Any) -> Any:
        try:
            parse_courses(proposal["value"], where="c.Courses.courses")
        except QuotaError as e:
            raise TraitError(str(e)) from None
        return proposal["value"]

    def declared(self) -> dict[str, Course]:
        """The courses, checked, by name."""
        return parse_courses(self.courses, where="c.Courses.courses")

    def course(self, name: str) -> Course:
        """One course by name; :class:`QuotaError` names the declared ones."""
        declared = self.declared()
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise QuotaError(f"no course {name!r} in c.Courses.courses (declared: {known})")
        return declared[name]
