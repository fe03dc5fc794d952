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
is in and as what; :func:`folders_of` where their servers get each course's
folder and whether they may write it; :func:`students_of` lists a course's
students among the hub's users. Usernames are compared lowercased (as the kit's
CLI and userlist normalize them); group names exactly, as JupyterHub stores them.
A course's name is its folder's name in the servers, in any script
(``物理-101``); on the host its folder is named by :func:`jhub_kit.names.safe_name`.
"""

from __future__ import annotations

import posixpath
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from traitlets import Dict, TraitError, Unicode, validate
from traitlets.config import Configurable

from ..names import MAX_LENGTH, safe_name
from .policy import UNLIMITED, QuotaError, format_size, parse_size

TEACHER = "teacher"
STUDENT = "student"

#: where a server gets its course folders: ``<home>/courses/<course name>``
FOLDER = "courses"

_COURSE_KEYS = ("teachers", "students", "size_limit")
#: keys a course may have (:mod:`jhub_kit.quota.nbgrader`)
_OPTIONAL_KEYS = ("nbgrader",)
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
    #: nbgrader's exchange for this course (:mod:`jhub_kit.quota.nbgrader`)
    nbgrader: bool = False
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

    @property
    def disk_name(self) -> str:
        """The course folder's name on the host (:func:`jhub_kit.names.safe_name`):
        the name itself when it is safe, else a readable prefix and a hash."""
        return safe_name(self.name)

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


def _not_a_folder_name(name: Any) -> str:
    """Why ``name`` cannot be a course folder's name in the servers ("" when it can)."""
    if not isinstance(name, str):
        return "not a string"
    if not name.strip():
        return "empty"
    if name != name.strip():
        return "spaces at its start or end"
    if len(name) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    if name in (".", "..") or name.startswith("-"):
        return "'.', '..' and a leading '-' are not names"
    if "/" in name or any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in name):
        return "'/' and control characters are not allowed"
    return ""


def parse_course(name: Any, value: Any, *, where: str = "Courses.courses") -> Course:
    """One course from its declaration; :class:`QuotaError` names what to fix."""
    here = f"{where}[{name!r}]"
    why = _not_a_folder_name(name)
    if why:
        raise QuotaError(
            f"{where}: course name {name!r} cannot name its folder: {why} (any script "
            f"will do, e.g. 'physics-101' or '物理-101')"
        )
    if not isinstance(value, Mapping):
        raise QuotaError(f"{here}: expected a mapping like {EXAMPLE}")
    unknown = sorted(str(k) for k in value if k not in _COURSE_KEYS + _OPTIONAL_KEYS)
    if unknown:
        raise QuotaError(
            f"{here}: unknown key(s) {', '.join(unknown)}; valid keys are "
            f"{', '.join(_COURSE_KEYS + _OPTIONAL_KEYS)}"
        )
    missing = [k for k in _COURSE_KEYS if k not in value]
    if missing:
        raise QuotaError(f"{here}: missing {', '.join(missing)} (e.g. {EXAMPLE})")
    size = parse_size(value["size_limit"], where=f"{here}.size_limit")
    if size == 0:
        raise QuotaError(f'{here}.size_limit: 0 bytes holds nothing; use e.g. "2G"')
    nbgrader = value.get("nbgrader", False)
    if not isinstance(nbgrader, bool):
        raise QuotaError(f"{here}.nbgrader: expected True or False, got {nbgrader!r}")
    if nbgrader and any(ch in name for ch in "+*"):
        raise QuotaError(
            f"{here}.nbgrader: nbgrader's course id cannot hold '+' or '*'; rename the course"
        )
    return Course(
        name=name,
        teachers=_members(value["teachers"], where=f"{here}.teachers"),
        students=_members(value["students"], where=f"{here}.students"),
        size_limit=None if size == UNLIMITED else int(size),
        nbgrader=nbgrader,
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


@dataclass(frozen=True)
class CourseFolder:
    """One course's folder in one user's servers: at ``target``, read-write for the
    course's teachers, read-only for its students."""

    course: Course
    role: str
    target: str

    @property
    def read_only(self) -> bool:
        return self.role != TEACHER


def folders_of(
    courses: Mapping[str, Course] | Iterable[Course],
    user: str,
    groups: Iterable[str],
    home: str,
) -> list[CourseFolder]:
    """The course folders ``user`` (in ``groups``) gets in every server, at
    ``<home>/courses/<course name>`` (``home``: where the server's home is mounted),
    by course name; none for a user in no course."""
    return [
        CourseFolder(course, role, posixpath.join(home, FOLDER, course.name))
        for course, role in courses_of(courses, user, groups)
    ]


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
        ``size_limit`` of its folder (``"2G"``, ``"500M"`` or ``"unlimited"``),
        and optionally ``"nbgrader": True`` (an nbgrader exchange that keeps the
        students apart, :mod:`jhub_kit.quota.nbgrader`).
        A user may be in several courses; one who is both teacher and student of
        a course is its teacher. Every server of a course's member gets its folder
        at ``<home>/courses/<name>``: read-write for its teachers, read-only for
        its students (see :attr:`provisioner`). Example::

            c.Courses.courses = {EXAMPLE}

        .. versionadded:: 0.5
        .. versionchanged:: 0.5
           A name may be in any script (``物理-101``): the folder on the host is named
           by :func:`jhub_kit.names.safe_name`.
        .. versionchanged:: 0.5
           ``"nbgrader": True`` gives the course an nbgrader exchange.
        """,
    ).tag(config=True)

    provisioner = Unicode(
        "",
        help="""What makes the course folders on the host: a home provisioner's short
        name or class path. Empty (the default): the kind the homes are made with
        (the spawner's ``home_provisioner``), so a ``loopfile`` hub gives each course
        an image file of its ``size_limit`` (a write past it fails with "No space
        left on device"), ``btrfs`` a subvolume with that limit, ``lvm`` a logical
        volume; ``directory`` a plain folder with **no** size limit. Each course is
        made once, shared by its members' servers, and owned by the provisioner's
        ``uid``/``gid`` (the uid the servers run as: the teachers write it).
        ``docker-volume`` and ``system-user`` cannot make them (a course member's
        start is then refused, naming this option). Example: ``"loopfile"``.

        .. versionadded:: 0.5
        """,
    ).tag(config=True)

    base_dir = Unicode(
        "",
        help="""Where the course folders (and their provisioner's state) live on
        the host. Empty (the default): ``courses`` beside the homes' ``base_dir``
        (``/srv/jupyterhub/courses`` for ``/srv/jupyterhub/homes``). On a swarm, a
        share mounted at the same path on every node, as the homes' is.
        Example: ``"/srv/jupyterhub/courses"``.

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
