"""The end of term on real loopfile homes: ``jhub-kit course archive``, ``reset``,
``restore`` bring every file back, byte for byte (content, mode, mtime to the
nanosecond, owner; links as links), and a running server is refused by name.

The hub's REST API is a stand-in on 127.0.0.1 (tests/support/fakehub.py): these
commands only read the user list (groups, servers) from it, and a real hub
would add a minute of start-up without testing more of them."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import stat
import subprocess

import pytest
from click.testing import CliRunner
from fakehub import FakeHub

from jhub_kit.cli import main
from jhub_kit.provision.directory import DirectoryProvisioner
from jhub_kit.provision.loopfile import LoopfileProvisioner
from jhub_kit.quota.policy import Quota

pytestmark = pytest.mark.root

M = 1024**2
STUDENTS = ["ann", "ben", "cleo.k"]  # cleo.k is not a safe name: her files get a hashed one
SCOPES = ["list:users", "read:users", "read:servers"]


def tree(root):
    """Everything under ``root`` as the test sees it (lstat, never following a link)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            if rel == "lost+found":
                continue
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    what = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                what = os.readlink(p)
            else:
                what = None
            out[rel] = (stat.S_IFMT(st.st_mode), st.st_mode, st.st_mtime_ns, st.st_size, what)
            out[rel] += (st.st_uid, st.st_gid)
    return out


def fill(home, user, other_home):
    """A student's term: notebooks, a Japanese name, an empty folder, a private file,
    links out of the home (one to another student's home), a read-only folder."""
    os.makedirs(os.path.join(home, "notebooks", "week 1"))
    with open(os.path.join(home, "notebooks", "week 1", "intro.ipynb"), "wb") as f:
        f.write(os.urandom(200_000))
    with open(os.path.join(home, "課題 1.txt"), "w") as f:
        f.write(f"{user}の答え\n")
    os.mkdir(os.path.join(home, "empty"))
    with open(os.path.join(home, ".secret"), "w") as f:
        f.write("token")
    os.chmod(os.path.join(home, ".secret"), 0o600)
    with open(os.path.join(home, "shared.txt"), "w") as f:
        f.write("the group may write this")
    os.chmod(os.path.join(home, "shared.txt"), 0o664)
    os.symlink("/etc/passwd", os.path.join(home, "outside"))
    os.symlink(other_home, os.path.join(home, "neighbour"))
    os.makedirs(os.path.join(home, "done", "final"))
    with open(os.path.join(home, "done", "final", "report.md"), "w") as f:
        f.write("# done\n")
    for dirpath, dirs, files in os.walk(home):
        for n in dirs + files:
            os.chown(os.path.join(dirpath, n), 1000, 100, follow_symlinks=False)
    os.chmod(os.path.join(home, "done"), 0o555)  # the student made it read-only
    stamp = 1_700_000_000_000_000_001
    for dirpath, dirs, files in os.walk(home, topdown=False):
        for n in dirs + files:
            stamp += 7_919  # nanoseconds: tar alone keeps microseconds at best
            os.utime(os.path.join(dirpath, n), ns=(stamp, stamp), follow_symlinks=False)


def models(running=(), pending=()):
    """The hub's users: ada (the teacher) and the students; ``running`` and
    ``pending`` (starting) servers."""
    users = []
    for u, groups in [("ada", ["staff"]), *[(u, ["physics"]) for u in STUDENTS]]:
        servers = {}
        if u in running or u in pending:
            servers[""] = {"name": "", "ready": u in running, "pending": u in pending and "spawn"}
        users.append({"name": u, "groups": groups, "servers": servers})
    return users


def serve(hub, running=(), starting_later=(), pending=()):
    """The hub's answers: ``running`` and ``pending`` servers; ``starting_later`` ones
    the user list does not show yet, but the user's own model does (asked for later)."""
    hub.route("GET", "/user", 200, {"name": "admin", "scopes": SCOPES})
    hub.route("GET", "/users", 200, models(running, pending))
    for m in models([*running, *starting_later]):
        hub.route("GET", f"/users/{m['name']}", 200, m)


@pytest.fixture
def hub():
    h = FakeHub()
    yield h
    h.close()


def write_config(tmp_path, homes, backend="directory", course=""):
    """The hub's config: homes of ``backend`` in ``homes``, course physics (ada
    teaches, the group physics takes it) with ``course``'s keys added."""
    keys = course or "'size_limit': '1G'"
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        "c = get_config()\n"
        f"c.QuotaDockerSpawner.home_provisioner = {backend!r}\n"
        f"c.HomeProvisioner.base_dir = {str(homes)!r}\n"
        "c.Courses.courses = {'physics': {'teachers': {'users': ['ada']},\n"
        "    'students': {'groups': ['physics']}, " + keys + "}}\n"
    )
    return config


BACKENDS = {"loopfile": LoopfileProvisioner, "directory": DirectoryProvisioner}


@pytest.mark.parametrize("backend", list(BACKENDS))
async def test_archive_reset_restore_brings_every_file_back(mount_area, tmp_path, hub, backend):
    homes = mount_area / "homes"
    config = write_config(tmp_path, homes, backend)
    config.write_text(config.read_text() + "c.QuotaDockerSpawner.disk_limit = '40M'\n")
    prov = BACKENDS[backend](base_dir=str(homes))
    paths = {}
    for u in ["ada", *STUDENTS]:
        paths[u] = (await prov.provision(u, Quota(disk_limit=40 * M))).source
    for i, u in enumerate(STUDENTS):
        fill(paths[u], u, paths[STUDENTS[(i + 1) % len(STUDENTS)]])
    with open(os.path.join(paths["ada"], "answers.md"), "w") as f:
        f.write("the teacher's\n")
    before = {u: tree(paths[u]) for u in STUDENTS}
    assert len(before["ann"]) == 12, sorted(before["ann"])
    archive_dir = tmp_path / "physics-archive"
    runner = CliRunner()

    def course(*args):
        env = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_URL": hub.url}
        return asyncio.to_thread(runner.invoke, main, ["course", *args, "-f", str(config)], env=env)

    # who is in the course
    serve(hub)
    r = await course("list", "--members")
    assert r.exit_code == 0, r.output
    assert "  teachers: ada\n  students: ann, ben, cleo.k\n" in r.output

    # ben's server runs: refused by name, not stopped; the others are archived
    serve(hub, running=["ben"])
    r = await course("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 1, r.output
    assert "2 of 3 students archived" in r.output
    assert "ben: ben's server is running (their default server)" in r.output
    assert not (archive_dir / "ben.tar.gz").exists()
    assert not any(hub_req[0] == "DELETE" for hub_req in hub.requests)
    # and nothing is reset while one student is refused
    r = await course("reset", "physics", "-d", str(archive_dir), "--yes")
    assert r.exit_code == 1 and "nothing was reset" in r.output
    assert "ben: ben's server is running" in r.output
    assert {u: tree(paths[u]) for u in STUDENTS} == before

    # ben stopped: the run goes on where it stopped (ann and cleo.k are skipped)
    serve(hub)
    r = await course("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    assert "ann: archived before, verified and unchanged; skipped" in r.output
    assert "cleo.k: archived before, verified and unchanged; skipped" in r.output
    assert "ben: 12 entries" in r.output and "ada:" not in r.output
    # a damaged archive is not "archived before": written again
    with open(archive_dir / "ben.tar.gz", "r+b") as f:
        f.truncate(1000)
    r = await course("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    assert "ben: 12 entries" in r.output and "ann: archived before" in r.output
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=archive_dir, capture_output=True, text=True
    )
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert sums.stdout.count(": OK") == 3
    cleo_tar = [p.name for p in archive_dir.glob("cleo*.tar.gz")]
    assert len(cleo_tar) == 1 and "--" in cleo_tar[0]  # a hashed, safe file name
    assert not list(archive_dir.glob(".*partial"))
    for p in archive_dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    # links were archived as links: ann's archive holds none of ben's files
    import tarfile

    with tarfile.open(archive_dir / "ann.tar.gz") as tar:
        names = tar.getnames()
        assert tar.getmember("home/neighbour").issym()
        assert tar.getmember("home/outside").linkname == "/etc/passwd"
    assert "home/neighbour/.secret" not in names and "home/課題 1.txt" in names

    # ann works once more after her archive: her home is not reset, nor anyone's
    with open(os.path.join(paths["ann"], "late.txt"), "w") as f:
        f.write("after the archive")
    os.chown(os.path.join(paths["ann"], "late.txt"), 1000, 100)
    r = await course("reset", "physics", "-d", str(archive_dir), "--yes")
    assert r.exit_code == 1, r.output
    assert "ann: the home changed since its archive (1: late.txt: new)" in r.output
    assert "run `jhub-kit course archive` again" in r.output
    assert {u: tree(paths[u]) for u in STUDENTS} == {**before, "ann": tree(paths["ann"])}
    r = await course("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    assert "ann: 13 entries" in r.output and "ben: archived before" in r.output
    before["ann"] = tree(paths["ann"])

    # the end of term: every student's home emptied (the teacher's untouched), but
    # ben's server started after the check (the user list did not show it yet)
    serve(hub, starting_later=["ben"])
    r = await course("reset", "physics", "-d", str(archive_dir), "--yes")
    assert r.exit_code == 1, r.output
    assert "ben: started since the check: ben's server is running" in r.output
    assert "ann: home emptied" in r.output and "cleo.k: home emptied" in r.output
    assert tree(paths["ben"]) == before["ben"]
    for u in ["ann", "cleo.k"]:
        assert set(os.listdir(paths[u])) <= {"lost+found"}, u
    assert os.path.exists(os.path.join(paths["ada"], "answers.md"))
    serve(hub)

    # and back: byte for byte, modes, mtimes, owners, links
    for u in ["ann", "cleo.k"]:
        r = await course("restore", "physics", u, "-d", str(archive_dir))
        assert r.exit_code == 0, r.output
        assert "entries, each as archived" in r.output
        assert tree(paths[u]) == before[u], u
    r = await course("restore", "physics", "ann", "-d", str(archive_dir))
    assert r.exit_code == 1 and "is not empty" in r.output
    r = await course("restore", "chem", "ann", "-d", str(archive_dir))
    assert r.exit_code == 1 and "holds course 'physics''s archives, not 'chem''s" in r.output
    serve(hub, running=["ann"])
    r = await course("restore", "physics", "ann", "-d", str(archive_dir))
    assert r.exit_code == 1 and "ann's server is running" in r.output

    # removed, not emptied: the home (image, folder) goes, and restore makes it again
    serve(hub)
    r = await course("reset", "physics", "-d", str(archive_dir), "--remove", "--yes")
    assert r.exit_code == 0, r.output
    assert "cleo.k: home removed" in r.output
    assert await prov.users() == ["ada"]
    if backend == "directory":
        assert not os.path.exists(paths["cleo.k"])
    r = await course("restore", "physics", "cleo.k", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    cleo = await prov.home_path("cleo.k")
    assert tree(cleo) == before["cleo.k"]


async def test_a_failed_archive_leaves_nothing_half_written(mount_area, tmp_path, hub):
    """A file the owner cannot read (root's, 0600) stops that student's archive with
    its path: no archive, no record, no partial file; the others are archived, and
    the next run, once it is fixed, archives only what is missing."""
    homes = mount_area / "homes"
    config = write_config(tmp_path, homes)
    prov = DirectoryProvisioner(base_dir=str(homes))
    paths = {u: (await prov.provision(u, Quota())).source for u in STUDENTS}
    for i, u in enumerate(STUDENTS):
        fill(paths[u], u, paths[STUDENTS[(i + 1) % len(STUDENTS)]])
    planted = os.path.join(paths["ben"], "notebooks", "root-only.txt")
    with open(planted, "w") as f:
        f.write("root's")
    os.chmod(planted, 0o600)  # owned by root: the owner's process cannot read it
    serve(hub)
    archive_dir = tmp_path / "arch"
    env = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_URL": hub.url}
    # an nbgrader course whose folders the config cannot make: said beside the
    # students' failures, and the homes archived before it are in SHA256SUMS
    broken = tmp_path / "broken_config.py"
    broken.write_text(
        config.read_text().replace("'1G'}", "'1G', 'nbgrader': True}")
        + "c.Courses.provisioner = 'docker-volume'\n"
    )
    args = ["course", "archive", "physics", "-f", str(broken), "-d", str(archive_dir)]
    r = await asyncio.to_thread(CliRunner().invoke, main, args, env=env)
    assert r.exit_code == 1, r.output
    assert "2 of 3 students archived" in r.output
    assert "nbgrader data: DockerVolumeProvisioner cannot make course folders" in r.output
    args = ["course", "archive", "physics", "-f", str(config), "-d", str(archive_dir)]
    assert f"ben: cannot archive {paths['ben']}" in r.output
    assert "Permission denied" in r.output and "root-only.txt" in r.output
    assert sorted(p.name for p in archive_dir.iterdir()) == [
        "SHA256SUMS",
        "ann.json",
        "ann.tar.gz",
        *sorted(p.name for p in archive_dir.glob("cleo*")),
    ]
    assert len(list(archive_dir.glob("cleo*"))) == 2
    assert (archive_dir / "SHA256SUMS").read_text().count("\n") == 2
    os.chown(planted, 1000, 100)
    r = await asyncio.to_thread(CliRunner().invoke, main, args, env=env)
    assert r.exit_code == 0, r.output
    assert "ann: archived before" in r.output and "ben: 13 entries" in r.output
    assert (archive_dir / "SHA256SUMS").read_text().count("\n") == 3


def fill_nbgrader(top, canary):
    """A graded term in a course's nbgrader folder on the host, as nbgrader leaves it:
    the teacher's source and release, the released assignment, each student's
    submission and feedback, the collected, autograded and feedback copies, the
    gradebook; a link in a submission to a folder of uid 1000's (never followed)."""
    files = {
        "staff/source/ps1/ps1.ipynb": os.urandom(30_000),
        "staff/release/ps1/ps1.ipynb": b'{"cells": []}',
        "staff/nbgrader_config.py": b"c = get_config()\n",
        "staff/gradebook.db": os.urandom(20_000),
        "exchange/outbound/ps1/ps1.ipynb": b'{"cells": []}',
    }
    for i, u in enumerate(STUDENTS):
        files[f"exchange/inbound/{u}/{u}+ps1+2026-12-01 10:00:00.000000 UTC+ab12/ps1.ipynb"] = (
            f"{u}の答え".encode()
        )
        files[f"exchange/feedback/{u}/0f{i}.html"] = f"<p>{u}: 1 of 1</p>".encode()
        for part in ("submitted", "autograded", "feedback"):
            files[f"staff/{part}/{u}/ps1/ps1.{'html' if part == 'feedback' else 'ipynb'}"] = (
                f"{part} {u}".encode()
            )
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(top, rel)), exist_ok=True)
        with open(os.path.join(top, rel), "wb") as f:
            f.write(data)
    link = os.path.join(top, "exchange/inbound/ann/ann+ps1+2026-12-01 10:00:00.000000 UTC+ab12")
    os.symlink(canary, os.path.join(link, "neighbour"))
    os.chmod(os.path.join(top, "staff/gradebook.db"), 0o600)
    root_owned = {"exchange", "exchange/inbound", "exchange/feedback"}
    stamp = 1_750_000_000_000_000_003
    for dirpath, dirs, names in os.walk(top, topdown=False):
        for n in dirs + names:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, top)
            if rel == "lost+found":
                continue
            if rel not in root_owned:
                os.chown(p, 1000, 100, follow_symlinks=False)
            stamp += 6_007
            os.utime(p, ns=(stamp, stamp), follow_symlinks=False)


@pytest.mark.parametrize("backend", list(BACKENDS))
async def test_the_nbgrader_data_is_archived_reset_and_restored(mount_area, tmp_path, hub, backend):
    """The course's nbgrader data is one more verified archive: skipped once verified
    and unchanged, archived again once changed; reset refuses it without an archive
    or changed since, and then starts a new term (the exchange and the students'
    work and grades go, the teachers' source and release stay); restore brings every
    file back, owners (root's folders too), modes and mtimes included."""
    from jhub_kit.cli import course_nbgrader
    from jhub_kit.cli.common import load_config
    from jhub_kit.provision.archive import ArchiveDir
    from jhub_kit.provision.nbgrader import prepare_nbgrader
    from jhub_kit.quota.courses import STUDENT, TEACHER, Courses

    homes = mount_area / "homes"
    config = write_config(tmp_path, homes, backend, "'size_limit': '40M', 'nbgrader': True")
    prov = BACKENDS[backend](base_dir=str(homes))
    paths = {u: (await prov.provision(u, Quota(disk_limit=40 * M))).source for u in STUDENTS}
    for i, u in enumerate(STUDENTS):
        fill(paths[u], u, paths[STUDENTS[(i + 1) % len(STUDENTS)]])
    c = load_config(str(config))
    course = Courses(config=c).course("physics")
    nbprov = course_nbgrader.provisioner(c, prov)
    top = await prepare_nbgrader(nbprov, course, TEACHER, "ada")
    for u in STUDENTS:
        assert await prepare_nbgrader(nbprov, course, STUDENT, u) == top
    assert top.startswith(str(mount_area / "courses-nbgrader"))
    canary = mount_area / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("not the course's")
    for p in (canary, canary / "keep.txt"):
        os.chown(p, 1000, 100)
    fill_nbgrader(top, str(canary))
    before = tree(top)
    assert before["exchange/inbound"][5:] == (0, 0) and before["staff"][5:] == (1000, 100)
    homes_before = {u: tree(paths[u]) for u in STUDENTS}
    archive_dir = tmp_path / "physics-archive"
    runner = CliRunner()
    serve(hub)

    def course_cli(*args):
        env = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_URL": hub.url}
        return asyncio.to_thread(runner.invoke, main, ["course", *args, "-f", str(config)], env=env)

    # no archive yet: nothing is reset, and the refusal names the nbgrader data
    r = await course_cli("reset", "physics", "-d", str(archive_dir), "--yes")
    assert r.exit_code == 1 and "nothing was reset" in r.output
    assert "nbgrader data: no archive of the course's nbgrader data" in r.output
    assert tree(top) == before

    # the teacher's server is starting (pending): the students' homes are archived,
    # the nbgrader data is not
    serve(hub, pending=["ada"])
    r = await course_cli("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 1, r.output
    assert "3 of 3 students archived" in r.output
    assert "nbgrader data: the course's nbgrader folder is in use (ada's server " in r.output
    assert not (archive_dir / "_nbgrader.tar.gz").exists()
    serve(hub)

    r = await course_cli("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    assert "3 of 3 students archived" in r.output
    assert f"nbgrader data: {len(before)} entries" in r.output
    assert (archive_dir / "_nbgrader.tar.gz").exists() and (archive_dir / "_nbgrader.json").exists()
    for p in archive_dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert not list(archive_dir.glob(".*partial"))
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=archive_dir, capture_output=True, text=True
    )
    assert sums.returncode == 0 and sums.stdout.count(": OK") == 4, sums.stdout
    import tarfile

    with tarfile.open(archive_dir / "_nbgrader.tar.gz") as tar:
        names = tar.getnames()
        inbound = "nbgrader/exchange/inbound/ann/ann+ps1+2026-12-01 10:00:00.000000 UTC+ab12"
        assert tar.getmember(f"{inbound}/neighbour").issym()
    assert "nbgrader/staff/gradebook.db" in names
    assert not any("neighbour/" in n for n in names)  # the link was not followed

    # verified and unchanged: skipped; a changed gradebook: refused by reset, archived again
    r = await course_cli("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    assert "nbgrader data: archived before, verified and unchanged; skipped" in r.output
    with open(os.path.join(top, "staff/gradebook.db"), "ab") as f:
        f.write(b"one more grade")
    r = await course_cli("reset", "physics", "-d", str(archive_dir), "--yes")
    assert r.exit_code == 1, r.output
    assert "nbgrader data: the course's nbgrader folder changed since its archive" in r.output
    assert "staff/gradebook.db: " in r.output
    assert {u: tree(paths[u]) for u in STUDENTS} == homes_before
    r = await course_cli("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    assert f"nbgrader data: {len(before)} entries" in r.output
    assert "ann: archived before" in r.output
    before = tree(top)

    # an engine that cannot be asked whether a container mounts them: nothing is reset
    env = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_URL": hub.url, "DOCKER_HOST": "unix:///no"}
    argv = ["course", "reset", "physics", "-f", str(config), "-d", str(archive_dir), "--yes"]
    r = await asyncio.to_thread(runner.invoke, main, argv, env=env)
    assert r.exit_code == 1 and "nothing was reset" in r.output, r.output
    assert "nbgrader data: the course's nbgrader folder is in use (the Docker engine" in r.output
    assert "ann: ann's home is in use (the Docker engine did not answer" in r.output
    assert tree(top) == before

    # a submission that comes after the check (while the confirmation waits): the
    # folder's reset removes nothing, and says what is not in the archive
    store = ArchiveDir(archive_dir, "physics")
    users = {m["name"]: m for m in models()}
    target, why = await course_nbgrader.check_reset(c, prov, course, store, users)
    assert target is not None, why
    late = "staff/submitted/ben/ps1/late.ipynb"
    with open(os.path.join(top, late), "w") as f:
        f.write("{}")
    os.chown(os.path.join(top, late), 1000, 100)
    why = await asyncio.to_thread(course_nbgrader.reset, target, store, users)
    assert f"{late}: new" in why and "nothing of the folder removed" in why, why
    now = tree(top)
    assert set(now) == set(before) | {late}
    assert all(now[rel][4] == before[rel][4] for rel in before)
    os.unlink(os.path.join(top, late))  # its folder's mtime changed: a reset goes on

    # the new term: the students' homes emptied, the exchange and the students' work
    # and grades gone; the teachers' source, release and config kept
    r = await course_cli("reset", "physics", "-d", str(archive_dir), "--yes")
    assert r.exit_code == 0, r.output
    assert "nbgrader data: exchange and submissions" in r.output
    after = tree(top)
    kept = {rel for rel in after if rel.split("/")[0] == "staff"}
    assert kept == {
        "staff",
        "staff/source",
        "staff/source/ps1",
        "staff/source/ps1/ps1.ipynb",
        "staff/release",
        "staff/release/ps1",
        "staff/release/ps1/ps1.ipynb",
        "staff/nbgrader_config.py",
    }
    for rel in kept - {"staff"}:
        assert after[rel] == before[rel], rel
    assert {rel for rel in after if rel.startswith("exchange")} == {
        "exchange",
        "exchange/outbound",
        "exchange/inbound",
        "exchange/feedback",
    }
    assert after["exchange/inbound"][5:] == (0, 0)
    assert (canary / "keep.txt").read_text() == "not the course's"  # followed nowhere

    # archived again after the reset: last term's archives are not replaced
    tars = {p.name: p.read_bytes() for p in archive_dir.glob("*.tar.gz")}
    r = await course_cli("archive", "physics", "-d", str(archive_dir))
    assert r.exit_code == 1, r.output
    assert "nbgrader data: the course's nbgrader data was reset at " in r.output
    assert "ann: ann was reset at " in r.output and "give --replace" in r.output
    assert {p.name: p.read_bytes() for p in archive_dir.glob("*.tar.gz")} == tars

    # and back, byte for byte, owners and all (and its archive is the folder's again)
    r = await course_cli("restore", "physics", "--nbgrader", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    assert "course physics's nbgrader data" in r.output and "each as archived" in r.output
    assert tree(top) == before
    r = await course_cli("archive", "physics", "-d", str(archive_dir))
    assert "nbgrader data: archived before, verified and unchanged; skipped" in r.output
    assert r.exit_code == 1 and "ann: ann was reset at " in r.output  # her home is not back
    # a new term's work in the folder: restore refuses, and touches nothing
    with open(os.path.join(top, "staff/source/ps1/ps2.ipynb"), "w") as f:
        f.write("{}")
    os.chown(os.path.join(top, "staff/source/ps1/ps2.ipynb"), 1000, 100)
    now = tree(top)
    r = await course_cli("restore", "physics", "--nbgrader", "-d", str(archive_dir))
    assert r.exit_code == 1, r.output
    assert "holds what its archive does not (staff/source/ps1/ps2.ipynb: new)" in r.output
    assert tree(top) == now
    # into a folder made again (nothing in it): root makes the layout's folders first
    os.unlink(os.path.join(top, "staff/source/ps1/ps2.ipynb"))
    for name in os.listdir(top):
        if name != "lost+found":
            shutil.rmtree(os.path.join(top, name))
    r = await course_cli("restore", "physics", "--nbgrader", "-d", str(archive_dir))
    assert r.exit_code == 0, r.output
    assert tree(top) == before
    r = await course_cli("restore", "physics", "-d", str(archive_dir))
    assert r.exit_code == 2 and "name a student (USERNAME) or give --nbgrader" in r.output
    # the new term's homes archived over last term's, as asked
    r = await course_cli("archive", "physics", "-d", str(archive_dir), "--replace")
    assert r.exit_code == 0 and "ann: 0 entries" in r.output, r.output


@pytest.mark.docker
async def test_an_nbgrader_folder_a_container_mounts_is_refused(
    mount_area, tmp_path, hub, docker_client, test_image
):
    """A teacher's server has the course directory mounted: archive and reset refuse
    the nbgrader data by the container's name and touch nothing; the students'
    homes are archived all the same."""
    from conftest import TEST_PREFIX, remove_test_containers

    from jhub_kit.cli import course_nbgrader
    from jhub_kit.cli.common import load_config
    from jhub_kit.provision.nbgrader import prepare_nbgrader
    from jhub_kit.quota.courses import TEACHER, Courses

    homes = mount_area / "homes"
    config = write_config(tmp_path, homes, course="'size_limit': '1G', 'nbgrader': True")
    prov = DirectoryProvisioner(base_dir=str(homes))
    for u in STUDENTS:
        await prov.provision(u, Quota())
    c = load_config(str(config))
    top = await prepare_nbgrader(
        course_nbgrader.provisioner(c, prov), Courses(config=c).course("physics"), TEACHER, "ada"
    )
    name = f"{TEST_PREFIX}-nbgrader-teacher"
    docker_client.containers.run(
        test_image,
        ["sleep", "300"],
        name=name,
        detach=True,
        volumes={f"{top}/staff": {"bind": "/home/jovyan/nbgrader/physics", "mode": "rw"}},
    )
    serve(hub)
    archive_dir = tmp_path / "arch"
    env = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_URL": hub.url}

    def course_cli(*args):
        argv = ["course", *args, "-f", str(config), "-d", str(archive_dir)]
        return asyncio.to_thread(CliRunner().invoke, main, argv, env=env)

    try:
        r = await course_cli("archive", "physics")
        assert r.exit_code == 1, r.output
        assert "3 of 3 students archived" in r.output
        assert f"nbgrader data: the course's nbgrader folder is in use (container {name})" in (
            r.output
        )
        assert not (archive_dir / "_nbgrader.tar.gz").exists()
        r = await course_cli("reset", "physics", "--yes")
        assert r.exit_code == 1 and "nothing was reset" in r.output
        assert f"nbgrader data: the course's nbgrader folder is in use (container {name})" in (
            r.output
        )
    finally:
        remove_test_containers(docker_client)
    r = await course_cli("archive", "physics")
    assert r.exit_code == 0, r.output
    assert "nbgrader data: " in r.output and " entries, " in r.output


async def test_the_nbgrader_data_is_archived_once_the_students_left_the_hub(
    mount_area, tmp_path, hub
):
    """At the end of term the students are gone from the hub (their homes are still
    here): the course's nbgrader data, the teachers' record of the term, is archived
    all the same, with its line in SHA256SUMS, no home is archived and the run says
    why; a reset then starts a new term in the nbgrader data and touches no home."""
    from jhub_kit.cli import course_nbgrader
    from jhub_kit.cli.common import load_config
    from jhub_kit.provision.nbgrader import prepare_nbgrader
    from jhub_kit.quota.courses import TEACHER, Courses

    homes = mount_area / "homes"
    config = write_config(tmp_path, homes, course="'size_limit': '1G', 'nbgrader': True")
    prov = DirectoryProvisioner(base_dir=str(homes))
    paths = {u: (await prov.provision(u, Quota())).source for u in STUDENTS}
    fill(paths["ann"], "ann", paths["ben"])
    homes_before = {u: tree(paths[u]) for u in STUDENTS}
    c = load_config(str(config))
    top = await prepare_nbgrader(
        course_nbgrader.provisioner(c, prov), Courses(config=c).course("physics"), TEACHER, "ada"
    )
    canary = mount_area / "canary"
    canary.mkdir()
    fill_nbgrader(top, str(canary))
    before = tree(top)
    hub.route("GET", "/user", 200, {"name": "admin", "scopes": SCOPES})
    hub.route("GET", "/users", 200, [m for m in models() if m["name"] == "ada"])
    archive_dir = tmp_path / "arch"
    env = {"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_URL": hub.url}

    def course_cli(*args, **kw):
        argv = ["course", *args, "-f", str(config), "-d", str(archive_dir)]
        return asyncio.to_thread(CliRunner().invoke, main, argv, env=env, **kw)

    # not archived yet: the reset refuses the nbgrader data and removes nothing
    r = await course_cli("reset", "physics", "--yes")
    assert r.exit_code == 1 and "nothing was reset" in r.output, r.output
    assert "nbgrader data: no archive of the course's nbgrader data" in r.output
    assert tree(top) == before

    r = await course_cli("archive", "physics")
    assert r.exit_code == 0, r.output
    assert f"nbgrader data: {len(before)} entries" in r.output
    assert (
        "0 students archived, no student's home: course physics has no students among "
        "the hub's users (its students: group:physics); see " in r.output
    )
    assert sorted(p.name for p in archive_dir.iterdir()) == [
        "SHA256SUMS",
        "_nbgrader.json",
        "_nbgrader.tar.gz",
    ]
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=archive_dir, capture_output=True, text=True
    )
    assert sums.returncode == 0 and sums.stdout == "_nbgrader.tar.gz: OK\n", sums.stdout

    r = await course_cli("reset", "physics", input="y\n")
    assert r.exit_code == 0, r.output
    assert "no student's home to reset" in r.output
    assert (
        "Start a new term in course physics's nbgrader data (no student's home to empty)? "
        f"Its archive is in {archive_dir}" in r.output
    )
    assert "nbgrader data: exchange and submissions" in r.output
    assert "staff/gradebook.db" not in tree(top) and "staff/source/ps1/ps1.ipynb" in tree(top)
    assert {u: tree(paths[u]) for u in STUDENTS} == homes_before
