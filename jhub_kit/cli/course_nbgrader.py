"""The course's nbgrader data in ``jhub-kit course archive|reset|restore``: its
folder on the host (:mod:`jhub_kit.provision.nbgrader`), archived as one more
verified archive beside the students' (``_nbgrader.tar.gz``), reset for a new term
and restored (:mod:`jhub_kit.provision.nbgrader_term`). A folder that a container
has mounted (a teacher's or a student's server) is refused, never touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..provision import HomeProvisioner, ProvisionError
from ..provision.archive import ArchiveDir, differences, listing, write_archive
from ..provision.courses import make_course_provisioner, provision_course
from ..provision.nbgrader import make_nbgrader_provisioner
from ..provision.nbgrader_term import PREFIX, reset_nbgrader, restore_nbgrader
from ..quota.courses import Course, Courses

#: how the course's nbgrader data is named in the commands' lines
LABEL = "nbgrader data"


@dataclass
class Folder:
    """A course's nbgrader folder on this host, and who owns its files."""

    path: Path
    owner: tuple[int, int]


def provisioner(c: Any, homes: HomeProvisioner) -> HomeProvisioner:
    """The nbgrader folders' provisioner the hub's config makes (beside the course
    folders', of their kind)."""
    courses = Courses(config=c)
    try:
        folders = make_course_provisioner(
            courses.provisioner or homes, config=c, base_dir=courses.base_dir
        )
    except ProvisionError as e:
        raise click.ClickException(str(e)) from None
    return make_nbgrader_provisioner(folders, config=c)


async def find(prov: HomeProvisioner, name: str) -> Folder | None:
    """Course ``name``'s nbgrader folder (mounted if need be), None when it has none."""
    if name not in await prov.users():
        return None
    return Folder(await prov.home_path(name), await prov.owner(name))


def in_use(prov: HomeProvisioner, folder: Path) -> list[str]:
    """Who has the folder (or a folder in it) mounted: a container, another mount."""
    found = list(prov.in_use_here(folder))
    top = os.path.normpath(str(folder))
    try:
        import docker

        client = docker.from_env(version="auto", timeout=30)
        for c in client.containers.list():
            for m in c.attrs.get("Mounts") or []:
                src = os.path.normpath(str(m.get("Source", "")))
                if src == top or src.startswith(top + "/"):
                    found.append(f"container {c.name}")
                    break
    except Exception as e:  # no engine answers: no container can have it mounted
        click.echo(f"warning: the Docker engine did not answer ({e}); not checked", err=True)
    return found


def refusal_in_use(why: list[str]) -> str:
    return (
        f"the course's nbgrader folder is in use ({', '.join(why)}): left untouched; stop "
        "the course's servers (its teachers' and students') and run this again"
    )


async def archive(c: Any, homes: HomeProvisioner, course: Course, store: ArchiveDir) -> str:
    """Archive ``course``'s nbgrader data (none: nothing to do): why it was not ("" when
    it was, or was before and is unchanged)."""
    prov = provisioner(c, homes)
    folder = await find(prov, course.name)
    if folder is None:
        click.echo(f"{LABEL}: course {course.name} has no nbgrader folder here; nothing to archive")
        return ""
    busy = in_use(prov, folder.path)
    if busy:
        return refusal_in_use(busy)
    try:
        record, _ = store.verified(None)
        if record is not None:
            now, _skipped = listing(folder.path, folder.owner, digests=False)
            if not differences(record["entries"], now, digests=False):
                click.echo(f"{LABEL}: archived before, verified and unchanged; skipped")
                return ""
        made = write_archive(folder.path, store.tar(None), folder.owner, PREFIX)
        store.save(None, made)
    except ProvisionError as e:
        return str(e)
    skipped = f"; not archived: {', '.join(made['skipped'])}" if made["skipped"] else ""
    click.echo(
        f"{LABEL}: {len(made['entries'])} entries, {made['bytes']} bytes to "
        f"{store.tar(None)} (sha256 {made['sha256'][:16]}...){skipped}"
    )
    return ""


async def check_reset(
    c: Any, homes: HomeProvisioner, course: Course, store: ArchiveDir
) -> tuple[tuple[HomeProvisioner, Folder] | None, str]:
    """What a reset of ``course``'s nbgrader data would touch (None: nothing), or why
    it is refused: no verified archive, a folder changed since, a server using it."""
    prov = provisioner(c, homes)
    folder = await find(prov, course.name)
    if folder is None:
        return None, ""
    busy = in_use(prov, folder.path)
    if busy:
        return None, refusal_in_use(busy)
    try:
        record, problem = store.verified(None)
        if record is None:
            return None, f"{problem}; run `jhub-kit course archive` first"
        now, _ = listing(folder.path, folder.owner, digests=False)
    except ProvisionError as e:
        return None, str(e)
    changed = differences(record["entries"], now, digests=False)
    if changed:
        return None, (
            f"the course's nbgrader folder changed since its archive ({len(changed)}: "
            f"{'; '.join(changed[:3])}); run `jhub-kit course archive` again"
        )
    return (prov, folder), ""


def reset(target: tuple[HomeProvisioner, Folder], store: ArchiveDir) -> str:
    """Reset the folder for a new term (checked again for servers just before): why
    not ("" once done)."""
    prov, folder = target
    busy = in_use(prov, folder.path)
    if busy:
        return f"started since the check: {refusal_in_use(busy)}"
    try:
        reset_nbgrader(folder.path, folder.owner)
    except ProvisionError as e:
        return f"{e} (its archive {store.tar(None)} is intact)"
    click.echo(
        f"{LABEL}: exchange and submissions, autograded work, feedback and gradebook "
        "removed; the teachers' source/ and release/ kept"
    )
    return ""


async def restore(
    c: Any, homes: HomeProvisioner, name: str, store: ArchiveDir, record: dict[str, Any]
) -> Path:
    """Bring course ``name``'s nbgrader data back from its archive (its folder made
    again if it is gone and the config still declares the course)."""
    prov = provisioner(c, homes)
    if name not in await prov.users():
        course = Courses(config=c).declared().get(name)
        if course is None:
            raise ProvisionError(
                f"course {name} has no nbgrader folder here and the config no longer "
                "declares it: nothing to restore into"
            )
        await provision_course(prov, course)
    folder = await find(prov, name)
    assert folder is not None
    busy = in_use(prov, folder.path)
    if busy:
        raise ProvisionError(refusal_in_use(busy))
    restore_nbgrader(store.tar(None), folder.path, folder.owner, record["entries"])
    return folder.path
