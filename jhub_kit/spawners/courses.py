"""The course folders' part of a start: which folders this user's server gets, each
made (once per course, on the host) before the server is, and their mounts in the
server's description.

A part, not a mixin: each kit spawner makes one :class:`CoursePart` (its
``course_part``) and calls it with what it knows of the start: the user, their
groups as the hub has them now (a change of membership takes effect at the next
start), where the home is mounted and the homes' provisioner. The folders are
mounts of the one description (:attr:`jhub_kit.spec.SpecInputs.courses`), so a
cold start, a pooled one (mounted into the member's home slot) and a swarm service
get the same ones. Which folders, and read-only or not, is pure
(:func:`jhub_kit.quota.courses.folders_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import registry
from ..compat import admin_must_fix
from ..provision import HomeProvisioner, ProvisionError
from ..provision.courses import make_course_provisioner, provision_course
from ..provision.nbgrader import IMAGE_FILES, make_nbgrader_provisioner, prepare_nbgrader
from ..quota.courses import Course, CourseFolder, Courses, courses_of, folders_of
from ..quota.nbgrader import config_dir, nbgrader_env, nbgrader_mounts, student_refusal

_STUDENT_WORDS = "Your course folders could not be prepared; an administrator has been told why."


def declared_courses(config: Any) -> dict[str, Course]:
    """The hub's courses (``c.Courses.courses``), checked when the config loaded."""
    return Courses(config=config).declared()


class CoursePart:
    """One server's course folders: wanted (from the declaration and the user's
    groups), then made, then mounted."""

    def __init__(self, config: Any, log: Any) -> None:
        self.config = config
        self.log = log
        self.made: list[tuple[CourseFolder, str]] | None = None
        """This start's folders and their host paths, once made (None before)."""
        self.exchanges: dict[str, str] = {}
        """This start's nbgrader folders on the host, by course name, once made."""
        self._kind: tuple[Any, str] = ("", "")

    def forget(self) -> None:
        """A new start: the folders are worked out again (the groups may have changed)."""
        self.made = None
        self.exchanges = {}

    def nbgrader_roles(self, user: str, groups: list[str]) -> list[tuple[Course, str]]:
        """The nbgrader courses ``user`` is in, each with their role."""
        declared = declared_courses(self.config)
        return [(c, r) for c, r in courses_of(declared, user, groups) if c.nbgrader]

    def env(self, user: str, groups: list[str], home: str) -> dict[str, str]:
        """nbgrader's environment in this user's servers (none outside its courses)."""
        return nbgrader_env(user, home, self.nbgrader_roles(user, groups))

    def wanted(self, user: str, groups: list[str], home: str) -> list[CourseFolder]:
        """The course folders ``user`` gets, at ``<home>/courses/<name>``."""
        declared = declared_courses(self.config)
        return folders_of(declared, user, groups, home) if declared else []

    def provisioner(self, homes: str | HomeProvisioner | None) -> HomeProvisioner:
        """The hub's course folders' provisioner (made once, shared by every spawner)."""
        courses = Courses(config=self.config)
        kind = courses.provisioner or homes
        if kind is None:
            raise ProvisionError(
                "c.Courses.courses declares courses but nothing makes their folders: set "
                "the spawner's home_provisioner, or c.Courses.provisioner (e.g. "
                '"loopfile" for a size limit, "directory" for none)'
            )
        key = kind if isinstance(kind, str) else id(kind)
        self._kind = (key, courses.base_dir)
        prov: HomeProvisioner = registry.shared(
            "course-provisioner",
            self.config,
            lambda: make_course_provisioner(
                kind, config=self.config, base_dir=courses.base_dir, log=self.log
            ),
            key,
            courses.base_dir,
        )
        return prov

    async def make(
        self,
        user: str,
        groups: list[str],
        home: str,
        homes: str | HomeProvisioner | None,
        progress: Callable[[int, str], None],
    ) -> None:
        """Make (or find) each course folder ``user`` gets; a folder that cannot be
        made fails the start with the admin's reason in the log (never a server
        without it)."""
        folders = self.wanted(user, groups, home)
        made = []
        if folders:
            progress(42, f"Preparing your course folders ({len(folders)})")
            try:
                prov = self.provisioner(homes)
                for folder in folders:
                    mount = await provision_course(prov, folder.course)
                    made.append((folder, mount.source))
            except ProvisionError as e:
                admin_must_fix(
                    self.log, _STUDENT_WORDS, f"Course folders of {user}: {e}", reason="courses"
                )
            self.log.info(
                "%s: course folders %s",
                user,
                ", ".join(f"{f.course.name} ({'ro' if f.read_only else 'rw'})" for f, _ in made),
            )
        self.made = made
        await self._make_exchanges(user, groups, homes)

    async def _make_exchanges(
        self, user: str, groups: list[str], homes: str | HomeProvisioner | None
    ) -> None:
        """Each nbgrader course's folder on the host, with this user's folders in it."""
        made = {}
        roles = self.nbgrader_roles(user, groups)
        if roles and student_refusal(user):
            self.log.warning("%s: no nbgrader exchange: %s", user, student_refusal(user))
            roles = []
        try:
            for course, role in roles:
                made[course.name] = await prepare_nbgrader(
                    self.nbgrader_provisioner(homes), course, role, user
                )
        except ProvisionError as e:
            admin_must_fix(
                self.log, _STUDENT_WORDS, f"nbgrader folders of {user}: {e}", reason="courses"
            )
        if made:
            self.log.info("%s: nbgrader exchanges %s", user, ", ".join(sorted(made)))
        self.exchanges = made

    def nbgrader_provisioner(self, homes: str | HomeProvisioner | None) -> HomeProvisioner:
        """The hub's nbgrader folders' provisioner (beside the course folders')."""
        folders = self.provisioner(homes)
        prov: HomeProvisioner = registry.shared(
            "nbgrader-provisioner",
            self.config,
            lambda: make_nbgrader_provisioner(folders, config=self.config, log=self.log),
            *self._kind,
        )
        return prov

    def mounts(self, user: str, groups: list[str], home: str) -> list[dict[str, Any]]:
        """The folders as the description's mounts (``docker.types.Mount`` dicts):
        the ones made, else (before they are: the pool's first look at a start) the
        ones wanted, with no source yet."""
        if self.made is not None:
            found = self.made
        else:
            found = [(f, "") for f in self.wanted(user, groups, home)]
        out = [_bind(f.target, source, f.read_only) for f, source in found]
        roles = self.nbgrader_roles(user, groups)
        nb = [(m, c) for c, role in roles for m in nbgrader_mounts(c, role, user, home)]
        if nb:
            out.append(_bind(config_dir(home), IMAGE_FILES, True))
        for m, course in nb:
            top = self.exchanges.get(course.name, "")
            out.append(_bind(m.target, f"{top}/{m.rel}" if top else "", m.read_only))
        return out


def _bind(target: str, source: str, read_only: bool) -> dict[str, Any]:
    return {"Target": target, "Source": source, "Type": "bind", "ReadOnly": read_only}
