"""``jhub-kit course list|archive|reset|restore``: the courses of ``c.Courses.courses``
and the end of term, run on the hub's host as root.

A course's students are the hub's users in its student groups (and the users it
names), asked of the hub's REST API; ``--userlist`` adds the groups the userlist
file gives. Every home is read, emptied and written as its owner
(:mod:`jhub_kit.provision.archive`). A student whose server runs is refused by
name, never stopped. An nbgrader course's own data is one more archive
(:mod:`.course_nbgrader`); what counts as in use is :mod:`.course_use`'s.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click
from traitlets import TraitError

from .. import resolve
from ..hubapi import HubAPI
from ..provision import HomeProvisioner, ProvisionError
from ..provision.archive import (
    ArchiveDir,
    differences,
    empty_home,
    listing,
    unpack,
)
from ..quota.courses import Course, Courses, students_of, teachers_of
from ..quota.policy import QuotaError
from . import course_nbgrader
from .common import config_option, connect, hub_options, load_config
from .course_use import containers_mounting, groups_of, hub_users, running
from .home_cmds import provisioner_for

SCOPES = ("list:users", "read:users", "read:servers")

archive_dir_option = click.option(
    "-d",
    "--archive-dir",
    type=click.Path(file_okay=False),
    help="The course's archive folder. Default: ./NAME-archive",
)
userlist_option = click.option(
    "--userlist",
    type=click.Path(exists=True, dir_okay=False),
    help="Also count the groups this userlist file gives (group:NAME).",
)


def _courses(c: Any) -> Courses:
    try:
        return Courses(config=c)
    except TraitError as e:
        raise click.ClickException(str(e)) from None


def _course(c: Any, name: str) -> Course:
    try:
        return _courses(c).course(name)
    except QuotaError as e:
        raise click.ClickException(str(e)) from None


def _refusal_running(user: str, servers: list[str]) -> str:
    return (
        f"{user}'s server is running ({', '.join(servers)}): it was left running and "
        f"{user}'s home untouched; stop it (the hub's admin page) and run this again"
    )


def _mounted(prov: HomeProvisioner, homes: dict[str, Path]) -> dict[str, list[str]]:
    """Who else has each home mounted: a warm pool member's slot, a container (or
    why that is unknown: the engine did not answer)."""
    containers = containers_mounting(homes)
    found = {
        user: [f"a warm pool member's slot at {m}" for m in prov.in_use_here(home)]
        + containers[user]
        for user, home in homes.items()
    }
    return {user: why for user, why in found.items() if why}


def _refusal_mounted(user: str, why: list[str]) -> str:
    return (
        f"{user}'s home is in use ({', '.join(why)}): left untouched; stop their server "
        "and run this again"
    )


async def _homes(prov: HomeProvisioner, users: list[str]) -> tuple[dict[str, Path], list[str]]:
    """Each user's home on this host (mounted if need be), and the users without one."""
    homes, without = {}, []
    listed = set(await prov.users())
    for user in users:
        if user not in listed:
            without.append(user)
            continue
        homes[user] = await prov.home_path(user)
    return homes, without


def _archive_dir(path: str | None, name: str) -> ArchiveDir:
    return ArchiveDir(Path(path or f"{name}-archive"), name)


@click.group("course")
def course_group() -> None:
    """Courses (c.Courses.courses) and the end of term: archive, reset and restore the
    students' homes and an nbgrader course's nbgrader data (run on the hub's host,
    as root)."""


@course_group.command("list")
@config_option("required")
@hub_options
@click.option("--members", is_flag=True, help="Also list each course's teachers and students.")
@userlist_option
def list_cmd(
    config_file: str, hub_url: str, token_file: str | None, members: bool, userlist: str | None
) -> None:
    """Every course the config declares; with --members, who is in it (asks the hub)."""
    courses = _courses(load_config(config_file))
    try:
        declared = courses.declared()
    except QuotaError as e:
        raise click.ClickException(str(e)) from None
    if not declared:
        click.echo("no courses: the config sets no c.Courses.courses")
        return
    groups = (
        groups_of(hub_users(connect(hub_url, token_file, *SCOPES), userlist)) if members else {}
    )
    for course in declared.values():
        click.echo(course.describe())
        if members:
            click.echo(f"  teachers: {', '.join(teachers_of(course, groups)) or 'none'}")
            click.echo(f"  students: {', '.join(students_of(course, groups)) or 'none'}")


@course_group.command("archive")
@click.argument("name")
@config_option("required")
@hub_options
@archive_dir_option
@userlist_option
@click.option(
    "--replace",
    is_flag=True,
    help="Replace an archive whose home (or nbgrader data) was reset after it.",
)
def archive_cmd(
    name: str,
    config_file: str,
    hub_url: str,
    token_file: str | None,
    archive_dir: str | None,
    userlist: str | None,
    replace: bool,
) -> None:
    """Write each student's home of course NAME to its own verified archive.

    One ``.tar.gz`` per student in the archive folder, with a record of every
    file (its SHA-256, mode, mtime; each link's target) and SHA256SUMS; for an
    nbgrader course, one more of the course's nbgrader data (``_nbgrader.tar.gz``:
    the exchange, the course directory and its gradebook). An archive that is
    there, verifies, and whose folder has not changed since is skipped: run it
    again after a failure and it goes on where it stopped. An archive whose home
    or data was reset after it (a new term) is not replaced without --replace.
    When the hub lists no student of the course (they left at the end of term),
    an nbgrader course's data is archived alone; another course has nothing to
    archive and is refused.
    """
    c = load_config(config_file)
    course = _course(c, name)
    prov = provisioner_for(c)
    users = hub_users(connect(hub_url, token_file, *SCOPES), userlist)
    students = students_of(course, groups_of(users))
    nobody = (
        f"course {name} has no students among the hub's users "
        f"(its students: {course.students.describe()})"
    )
    if not students and not course.nbgrader:
        raise click.ClickException(nobody)  # nothing to archive
    store = _archive_dir(archive_dir, name)
    store.create()
    failed: dict[str, str] = {}
    without: list[str] = []
    if students:
        failed, without = asyncio.run(_archive_all(prov, store, students, users, replace))
    nbgrader = ""
    if course.nbgrader:  # the teachers' record of the term, even once no student is left
        nbgrader = asyncio.run(course_nbgrader.archive(c, prov, course, store, users, replace))
    sums = store.write_sums()
    if students:
        done = len(students) - len(failed) - len(without)
        click.echo(
            f"{done} of {len(students)} students archived"
            + (f" ({len(without)} without a home here)" if without else "")
            + f"; see {sums}"
        )
    else:
        click.echo(f"0 students archived, no student's home: {nobody}; see {sums}")
    if nbgrader:
        failed[course_nbgrader.LABEL] = nbgrader
    if failed:
        click.echo("not archived:", err=True)
        for user, why in failed.items():
            click.echo(f"  {user}: {why}", err=True)
        sys.exit(1)


async def _archive_all(
    prov: HomeProvisioner,
    store: ArchiveDir,
    students: list[str],
    users: dict[str, dict[str, Any]],
    replace: bool,
) -> tuple[dict[str, str], list[str]]:
    """Archive each student's home: those refused or failed (with why), and those
    without a home."""
    failed: dict[str, str] = {}
    homes, without = await _homes(prov, students)
    for user in without:
        click.echo(f"{user}: has no home here; nothing to archive")
    mounted = _mounted(prov, homes)
    for user, home in homes.items():
        servers = running(users.get(user))
        if servers:
            failed[user] = _refusal_running(user, servers)
            continue
        if user in mounted:
            failed[user] = _refusal_mounted(user, mounted[user])
            continue
        try:
            owner = await prov.owner(user)
            made, refused = store.archive(user, home, owner, replace=replace)
            if made is None:
                if refused:
                    failed[user] = refused
                else:
                    click.echo(f"{user}: archived before, verified and unchanged; skipped")
                continue
        except ProvisionError as e:
            failed[user] = str(e)
            continue
        skipped = f"; not archived: {', '.join(made['skipped'])}" if made["skipped"] else ""
        click.echo(
            f"{user}: {len(made['entries'])} entries, {made['bytes']} bytes to "
            f"{store.tar(user)} (sha256 {made['sha256'][:16]}...){skipped}"
        )
    return failed, without


@course_group.command("reset")
@click.argument("name")
@config_option("required")
@hub_options
@archive_dir_option
@userlist_option
@click.option(
    "--remove",
    is_flag=True,
    help="Remove the homes (their disk, volume or folder) instead of emptying them.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_cmd(
    name: str,
    config_file: str,
    hub_url: str,
    token_file: str | None,
    archive_dir: str | None,
    userlist: str | None,
    remove: bool,
    yes: bool,
) -> None:
    """Empty (or --remove) the homes of course NAME's students; for an nbgrader
    course, start a new term in its nbgrader data too (the exchange, the
    submissions, the autograded work, the feedback and the gradebook go; the
    teachers' source/ and release/ stay).

    Every student is checked first: an archive that verifies, a home unchanged
    since it was archived, no server running; and so is the nbgrader data (its
    archive, unchanged, no course member's server running or starting, no
    container here mounting it; then only what is still as archived is removed).
    If one is refused, nothing is touched, and the refusals say why.
    """
    c = load_config(config_file)
    course = _course(c, name)
    prov = provisioner_for(c)
    api = connect(hub_url, token_file, *SCOPES)
    users = hub_users(api, userlist)
    students = students_of(course, groups_of(users))
    if not students:  # an nbgrader course's data is still checked and reset below
        click.echo(
            f"course {name} has no students among the hub's users (its students: "
            f"{course.students.describe()}): no student's home to reset"
        )
    store = _archive_dir(archive_dir, name)
    homes, refused = asyncio.run(_check_reset(prov, store, students, users))
    nbgrader = None
    if course.nbgrader:
        nbgrader, why = asyncio.run(course_nbgrader.check_reset(c, prov, course, store, users))
        if why:
            refused[course_nbgrader.LABEL] = why
    if refused:
        raise click.ClickException(
            "nothing was reset:\n" + "\n".join(f"  {u}: {why}" for u, why in refused.items())
        )
    if not homes and nbgrader is None:
        click.echo(f"no home of course {name}'s students to reset")
        return
    what = "remove" if remove else "empty"
    if not yes:
        also = " and start a new term in its nbgrader data" if nbgrader is not None else ""
        question = (
            f"{what.capitalize()} the homes of {len(homes)} students of {name} "
            f"({', '.join(homes)}){also}? Their archives are in {store.path}"
            if homes
            else f"Start a new term in course {name}'s nbgrader data (no student's home to "
            f"{what})? Its archive is in {store.path}"
        )
        click.confirm(question, abort=True)
    failed = asyncio.run(_reset_all(prov, store, homes, remove, api))
    if nbgrader is not None:
        why = course_nbgrader.reset(nbgrader, store, hub_users(api, userlist))
        if why:
            failed[course_nbgrader.LABEL] = why
    if failed:
        raise click.ClickException(
            f"{len(failed)} of {len(homes) + (nbgrader is not None)} not fully reset:\n"
            + "\n".join(f"  {u}: {why}" for u, why in failed.items())
        )


async def _check_reset(
    prov: HomeProvisioner,
    store: ArchiveDir,
    students: list[str],
    users: dict[str, dict[str, Any]],
) -> tuple[dict[str, Path], dict[str, str]]:
    refused: dict[str, str] = {}
    homes, without = await _homes(prov, students)
    for user in without:
        click.echo(f"{user}: has no home here; nothing to reset")
    mounted = _mounted(prov, homes)
    for user, home in homes.items():
        servers = running(users.get(user))
        if servers:
            refused[user] = _refusal_running(user, servers)
        elif user in mounted:
            refused[user] = _refusal_mounted(user, mounted[user])
        elif why := await prov.why_untouchable(user):
            refused[user] = why
        else:
            try:
                record, problem = store.verified(user)
                if record is None:
                    refused[user] = f"{problem}; run `jhub-kit course archive` first"
                    continue
                now, _ = listing(home, await prov.owner(user), digests=False)
            except ProvisionError as e:
                refused[user] = str(e)
                continue
            changed = differences(record["entries"], now, digests=False)
            if changed:
                refused[user] = (
                    f"the home changed since its archive ({len(changed)}: "
                    f"{'; '.join(changed[:3])}); run `jhub-kit course archive` again"
                )
    return homes, refused


async def _reset_all(
    prov: HomeProvisioner, store: ArchiveDir, homes: dict[str, Path], remove: bool, api: HubAPI
) -> dict[str, str]:
    """Empty or remove each home; a failure stops that student's, not the others'.
    Each student's servers are asked for again just before: one may have started
    since every student was checked (and while the confirmation waited)."""
    failed = {}
    for user, home in homes.items():
        servers = running(api.user(user))
        mounted = _mounted(prov, {user: home})
        if servers or mounted:
            why = servers and _refusal_running(user, servers)
            failed[user] = (
                f"started since the check: {why or _refusal_mounted(user, mounted[user])}"
            )
            continue
        record = store.record(user)
        if record is None:  # checked before: its record went away meanwhile
            failed[user] = f"no record of {user}'s archive in {store.path} now; nothing removed"
            continue
        try:
            store.mark_reset(user)  # a new term: archive no longer replaces its archive
            if remove:
                # deprovision archives the home once more (under removed/), then removes it
                extra = await prov.deprovision(user, store.path / "removed")
                click.echo(f"{user}: home removed (a further archive: {extra})")
            else:
                # only what is still as archived: what came since the check stays
                empty_home(home, await prov.owner(user), record["entries"])
                click.echo(f"{user}: home emptied")
        except ProvisionError as e:
            failed[user] = f"{e} (their archive {store.tar(user)} is intact)"
    return failed


@course_group.command("restore")
@click.argument("name")
@click.argument("username", required=False)
@config_option("required")
@hub_options
@archive_dir_option
@click.option(
    "--nbgrader",
    "nbgrader",
    is_flag=True,
    help="Restore the course's nbgrader data (its exchange, course directory, gradebook) "
    "instead of a student's home.",
)
def restore_cmd(
    name: str,
    username: str | None,
    config_file: str,
    hub_url: str,
    token_file: str | None,
    archive_dir: str | None,
    nbgrader: bool,
) -> None:
    """Bring USERNAME's home back from course NAME's archive, into an empty home;
    or, with --nbgrader, the course's nbgrader data.

    The archive is checked against its SHA-256 first; afterwards every file is
    compared with the archive's record (content, mode, mtime, links). The
    nbgrader data is restored into its folder, which may hold what a reset kept and
    nothing the archive does not; no course member's server may be running.
    """
    if nbgrader == bool(username):
        raise click.UsageError("name a student (USERNAME) or give --nbgrader, one of them")
    user = username.lower() if username else None
    c = load_config(config_file)  # the course may be gone from it: its archives are not
    prov = provisioner_for(c)
    store = _archive_dir(archive_dir, name)
    record, problem = store.verified(user)
    if record is None:
        raise click.ClickException(problem)
    if record.get("course") != name:
        raise click.ClickException(
            f"{store.path} holds course {record.get('course')!r}'s archives, not {name!r}'s"
        )
    api = connect(hub_url, token_file, *SCOPES)
    if user is None:
        try:
            folder = asyncio.run(
                course_nbgrader.restore(c, prov, name, store, record, hub_users(api, None))
            )
        except (ProvisionError, QuotaError) as e:
            raise click.ClickException(str(e)) from None
        click.echo(
            f"course {name}'s nbgrader data {folder} restored from {store.tar(None)}: "
            f"{len(record['entries'])} entries, each as archived (content, mode, mtime, "
            "link target)"
        )
        return
    model = api.user(user)
    servers = running(model)
    if servers:
        raise click.ClickException(_refusal_running(user, servers))
    groups = (model or {}).get("groups") or []
    home = asyncio.run(_restore(c, prov, store, user, groups, record))
    click.echo(
        f"{user}'s home {home} restored from {store.tar(user)}: {len(record['entries'])} "
        "entries, each as archived (content, mode, mtime, link target)"
    )


async def _restore(
    c: Any,
    prov: HomeProvisioner,
    store: ArchiveDir,
    user: str,
    groups: list[str],
    record: dict[str, Any],
) -> Path:
    if user not in await prov.users():  # removed by `course reset --remove`: made again
        await prov.provision(user, await resolve.quota_for(c, user, groups))
    why = await prov.why_untouchable(user)
    if why:
        raise ProvisionError(f"refusing to restore {user}'s home: {why}")
    home = await prov.home_path(user, recreate=True)
    mounted = _mounted(prov, {user: home})
    if mounted:
        raise ProvisionError(_refusal_mounted(user, mounted[user]))
    owner = await prov.owner(user)
    unpack(store.tar(user), home, owner, record["entries"])
    now, _ = listing(home, owner, digests=True)
    changed = differences(record["entries"], now)
    if changed:
        raise ProvisionError(
            f"{user}'s home was unpacked but differs from its archive in {len(changed)} "
            f"entries: {'; '.join(changed[:5])}"
        )
    store.mark_reset(user, reset=False)  # it holds the archive again
    return home
