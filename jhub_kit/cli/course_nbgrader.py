"""The course's nbgrader data in ``jhub-kit course archive|reset|restore``: its
folder on the host (:mod:`jhub_kit.provision.nbgrader`), archived as one more
verified archive beside the students' (``_nbgrader.tar.gz``), reset for a new term
and restored (:mod:`jhub_kit.provision.nbgrader_term`). Refused while it is in use
(:mod:`.course_use`): a course member (teacher or student) has a server the hub
lists as running or starting, a container here mounts the folder, or the engine
cannot say.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..provision import HomeProvisioner, ProvisionError
from ..provision.archive import NBGRADER_PART, ArchiveDir, listing
from ..provision.courses import make_course_provisioner, provision_course
from ..provision.nbgrader import make_nbgrader_provisioner
from ..provision.nbgrader_term import not_archived, reset_nbgrader, restore_nbgrader
from ..quota.courses import Course, Courses, students_of, teachers_of
from .course_use import containers_mounting, groups_of, members_running

#: how the course's nbgrader data is named in the commands' lines
LABEL = "nbgrader data"

Users = dict[str, dict[str, Any]]


@dataclass
class Folder:
    """A course's nbgrader folder on this host, and who owns its files."""

    path: Path
    owner: tuple[int, int]


def provisioner(c: Any, homes: HomeProvisioner) -> HomeProvisioner:
    """The nbgrader folders' provisioner the hub's config makes (beside the course
    folders', of their kind); a config it cannot make one of: :class:`ProvisionError`."""
    courses = Courses(config=c)
    try:
        folders = make_course_provisioner(
            courses.provisioner or homes, config=c, base_dir=courses.base_dir
        )
    except ValueError as e:  # an unknown kind's name
        raise ProvisionError(f"c.Courses.provisioner: {e}") from None
    return make_nbgrader_provisioner(folders, config=c)


async def find(prov: HomeProvisioner, name: str) -> Folder | None:
    """Course ``name``'s nbgrader folder (mounted if need be), None when it has none."""
    if name not in await prov.users():
        return None
    return Folder(await prov.home_path(name), await prov.owner(name))


def in_use(prov: HomeProvisioner, folder: Path, course: Course | None, users: Users) -> list[str]:
    """Who uses the folder: a course member's server the hub lists (running or
    starting; none known for a course the config no longer declares), a mount
    elsewhere on this host, a container here (or: the engine did not answer)."""
    found = []
    if course is not None:
        groups = groups_of(users)
        found += members_running(teachers_of(course, groups) + students_of(course, groups), users)
    found += prov.in_use_here(folder)
    return found + containers_mounting({0: folder})[0]


def refusal_in_use(why: list[str]) -> str:
    return (
        f"the course's nbgrader folder is in use ({', '.join(why)}): left untouched; stop "
        "the course's servers (its teachers' and students') and run this again"
    )


async def archive(
    c: Any,
    homes: HomeProvisioner,
    course: Course,
    store: ArchiveDir,
    users: Users,
    replace: bool = False,
) -> str:
    """Archive ``course``'s nbgrader data (none: nothing to do): why it was not ("" when
    it was, or was before and is unchanged). An archive the data was reset after is
    replaced only with ``replace``."""
    try:
        return await _archive(c, homes, course, store, users, replace)
    except ProvisionError as e:
        return str(e)


async def _archive(
    c: Any, homes: HomeProvisioner, course: Course, store: ArchiveDir, users: Users, replace: bool
) -> str:
    prov = provisioner(c, homes)
    folder = await find(prov, course.name)
    if folder is None:
        click.echo(f"{LABEL}: course {course.name} has no nbgrader folder here; nothing to archive")
        return ""
    busy = in_use(prov, folder.path, course, users)
    if busy:
        return refusal_in_use(busy)
    made, refused = store.archive(
        None, folder.path, folder.owner, replace=replace, prefix=NBGRADER_PART
    )
    if made is None:
        if not refused:
            click.echo(f"{LABEL}: archived before, verified and unchanged; skipped")
        return refused
    skipped = f"; not archived: {', '.join(made['skipped'])}" if made["skipped"] else ""
    click.echo(
        f"{LABEL}: {len(made['entries'])} entries, {made['bytes']} bytes to "
        f"{store.tar(None)} (sha256 {made['sha256'][:16]}...){skipped}"
    )
    return ""


Target = tuple[HomeProvisioner, Folder, Course, dict[str, Any]]


async def check_reset(
    c: Any, homes: HomeProvisioner, course: Course, store: ArchiveDir, users: Users
) -> tuple[Target | None, str]:
    """What a reset of ``course``'s nbgrader data would touch (None: nothing), or why
    it is refused: no verified archive, a folder changed since, a server using it."""
    try:
        prov = provisioner(c, homes)
        folder = await find(prov, course.name)
        if folder is None:
            return None, ""
        busy = in_use(prov, folder.path, course, users)
        if busy:
            return None, refusal_in_use(busy)
        record, problem = store.verified(None)
        if record is None:
            return None, f"{problem}; run `jhub-kit course archive` first"
        now, _ = listing(folder.path, folder.owner, digests=False)
    except ProvisionError as e:
        return None, str(e)
    changed = not_archived(record["entries"], now)
    if changed:
        return None, (
            f"the course's nbgrader folder changed since its archive ({len(changed)}: "
            f"{'; '.join(changed[:3])}); run `jhub-kit course archive` again"
        )
    return (prov, folder, course, record), ""


def reset(target: Target, store: ArchiveDir, users: Users) -> str:
    """Reset the folder for a new term (checked again for servers just before, with
    the hub's ``users`` as they are now; each entry removed only while it is as
    archived): why not ("" once done)."""
    prov, folder, course, record = target
    busy = in_use(prov, folder.path, course, users)
    if busy:
        return f"started since the check: {refusal_in_use(busy)}"
    try:
        reset_nbgrader(folder.path, folder.owner, record["entries"], lambda: store.mark_reset(None))
    except ProvisionError as e:
        return f"{e} (its archive {store.tar(None)} is intact)"
    click.echo(
        f"{LABEL}: exchange and submissions, autograded work, feedback and gradebook "
        "removed; the teachers' source/ and release/ kept"
    )
    return ""


async def restore(
    c: Any,
    homes: HomeProvisioner,
    name: str,
    store: ArchiveDir,
    record: dict[str, Any],
    users: Users,
) -> Path:
    """Bring course ``name``'s nbgrader data back from its archive (its folder made
    again if it is gone and the config still declares the course)."""
    prov = provisioner(c, homes)
    course = Courses(config=c).declared().get(name)
    if name not in await prov.users():
        if course is None:
            raise ProvisionError(
                f"course {name} has no nbgrader folder here and the config no longer "
                "declares it: nothing to restore into"
            )
        await provision_course(prov, course)
    folder = await find(prov, name)
    assert folder is not None
    busy = in_use(prov, folder.path, course, users)
    if busy:
        raise ProvisionError(refusal_in_use(busy))
    restore_nbgrader(store.tar(None), folder.path, folder.owner, record["entries"])
    store.mark_reset(None, reset=False)  # it holds the archive again
    return folder.path
