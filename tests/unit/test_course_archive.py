"""The archive format of ``jhub-kit course`` (jhub_kit.provision.archive), without root:
the functions the owner's process runs are called here in this process, on a tree
in tmp_path (the round trip as the owner, on real homes, is
tests/integration/test_course_term.py)."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest
from click.testing import CliRunner
from fakehub import FakeHub

from jhub_kit.cli import main
from jhub_kit.provision import ProvisionError
from jhub_kit.provision.archive import (
    NBGRADER_PART,
    ArchiveDir,
    _extract,
    _list_tree,
    _write_tar,
    archive_problems,
    differences,
)
from jhub_kit.provision.tree import member_filter


def make_tree(root):
    (root / "notebooks" / "week 1").mkdir(parents=True)
    (root / "notebooks" / "week 1" / "intro.ipynb").write_bytes(os.urandom(70_000))
    (root / "課題.txt").write_text("日本語のファイル\n")
    (root / "empty").mkdir()
    secret = root / "secret"
    secret.write_text("mine")
    os.chmod(secret, 0o600)
    shared = root / "group-writable"
    shared.write_text("g")
    os.chmod(shared, 0o664)
    os.symlink("/etc/passwd", root / "outside")
    os.symlink("notebooks/week 1", root / "week")
    os.link(secret, root / "secret-again")
    os.mkfifo(root / "pipe")
    os.utime(root / "notebooks", ns=(1, 1_700_000_000_123_456_789))


def write(top, dest):
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(dest.with_suffix(".list"), "w+") as out:
        try:
            _write_tar(out.fileno(), fd, str(top))
        finally:
            os.close(fd)
        out.seek(0)
        return json.load(out)


def test_write_read_back_and_unpack_is_the_same_tree(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    listed = write(src, tmp_path / "a.tar.gz")
    entries = listed["entries"]
    assert entries == _list_tree(str(src), True)[0]
    assert entries["outside"] == {**entries["outside"], "type": "symlink", "target": "/etc/passwd"}
    assert entries["secret"]["mode"] == 0o600 and entries["secret"]["type"] == "file"
    assert entries["secret-again"]["type"] == "hardlink"
    assert entries["secret-again"]["target"] == "secret"
    assert entries["notebooks"]["mtime_ns"] == 1_700_000_000_123_456_789
    assert entries["pipe"]["type"] == "fifo" and listed["skipped"] == []
    assert archive_problems(tmp_path / "a.tar.gz", entries) == []

    dest = tmp_path / "dest"
    dest.mkdir()
    fd = os.open(tmp_path / "a.tar.gz", os.O_RDONLY)
    try:
        _extract(fd, str(dest), entries)
    finally:
        os.close(fd)
    assert differences(entries, _list_tree(str(dest), True)[0]) == []
    assert os.readlink(dest / "outside") == "/etc/passwd"
    assert (dest / "課題.txt").read_text() == "日本語のファイル\n"
    # unpacking refuses a home that holds anything
    fd = os.open(tmp_path / "a.tar.gz", os.O_RDONLY)
    try:
        with pytest.raises(ProvisionError, match="is not empty"):
            _extract(fd, str(dest), entries)
    finally:
        os.close(fd)


def test_a_damaged_archive_or_listing_is_caught(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("one")
    (src / "b").write_text("two")
    entries = write(src, tmp_path / "a.tar.gz")["entries"]
    assert archive_problems(tmp_path / "a.tar.gz", {**entries, "c": entries["a"]}) == [
        "c: listed, not in the archive"
    ]
    wrong = {**entries, "b": {**entries["b"], "sha256": "0" * 64}}
    assert archive_problems(tmp_path / "a.tar.gz", wrong) == [
        "b: its bytes differ from the listing's SHA-256"
    ]
    del wrong["b"]
    assert archive_problems(tmp_path / "a.tar.gz", wrong) == [
        "b: in the archive, not in its listing"
    ]


def test_differences():
    f = {"type": "file", "mode": 0o644, "mtime_ns": 5, "size": 3, "sha256": "aa"}
    before = {"a": f, "b": f, "d": {"type": "dir", "mode": 0o755, "mtime_ns": 1}}
    now = {
        "a": {**f, "sha256": "bb"},
        "b": {**f, "mode": 0o600, "mtime_ns": 6},
        "c": f,
    }
    assert differences(before, now) == [
        "a: sha256 changed",
        "b: mode, mtime_ns changed",
        "c: new",
        "d: gone",
    ]
    assert differences(before, now, digests=False) == [
        "b: mode, mtime_ns changed",
        "c: new",
        "d: gone",
    ]
    assert differences(before, before) == []


def member(name, kind=tarfile.REGTYPE, linkname="", mode=0o664):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    return info


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (member("home/a"), ("a", "", 0o664)),
        (member("home/d/x", mode=0o7755), ("d/x", "", 0o7755)),
        (member("home/l", tarfile.SYMTYPE, "/etc/passwd", 0o777), ("l", "/etc/passwd", 0o777)),
        (member("home/h", tarfile.LNKTYPE, "home/a"), ("h", "a", 0o664)),
        (member("home"), None),
        (member("course/x"), None),
    ],
    ids=["file", "modes-kept", "symlink-out-kept", "hardlink", "top", "other-part"],
)
def test_the_extraction_filter(tmp_path, info, expected):
    got = member_filter(info, str(tmp_path), "home")
    assert (got if got is None else (got.name, got.linkname, got.mode)) == expected


@pytest.mark.parametrize(
    ("info", "message"),
    [
        (member("home/../../x"), "outside the destination"),
        (member("home/h", tarfile.LNKTYPE, "/etc/shadow"), "a hard link to '/etc/shadow'"),
        (member("home/h", tarfile.LNKTYPE, "home/../x"), "a hard link to 'home/../x'"),
        (member("home/dev", tarfile.CHRTYPE), "a device"),
    ],
    ids=["traversal", "hardlink-absolute", "hardlink-up", "device"],
)
def test_the_extraction_filter_refuses(tmp_path, info, message):
    with pytest.raises((ProvisionError, tarfile.FilterError), match=message):
        member_filter(info, str(tmp_path), "home")


def test_the_filter_refuses_a_path_through_an_unpacked_link(tmp_path):
    os.symlink("/etc", tmp_path / "l")
    with pytest.raises(tarfile.FilterError, match="outside the destination"):
        member_filter(member("home/l/passwd"), str(tmp_path), "home")


def test_archive_dir_verifies_and_sums(tmp_path):
    store = ArchiveDir(tmp_path / "arch", "physics")
    store.create()
    assert store.verified("ann") == (None, f"no archive of ann in {store.path}")
    store.tar("ann").write_bytes(b"tar bytes")
    import hashlib

    sha = hashlib.sha256(b"tar bytes").hexdigest()
    saved = store.save("ann", {"sha256": sha, "bytes": 9, "entries": {}, "skipped": []})
    assert saved["course"] == "physics" and saved["archive"] == "ann.tar.gz"
    record, problem = store.verified("ann")
    assert problem == "" and record == saved
    assert (store.path / "SHA256SUMS").exists() is False
    assert store.write_sums().read_text() == f"{sha}  ann.tar.gz\n"
    store.tar("ann").write_bytes(b"tar bytez")
    assert store.verified("ann") == (
        None,
        f"{store.tar('ann')} is not the archive its record describes (SHA-256)",
    )
    # a hostile name gets a safe file name, and another user's record is not theirs
    assert store.tar("../Ann").parent == store.path and "--" in store.tar("../Ann").name
    (store.path / "bob.json").write_text(json.dumps({"user": "mallory"}))
    assert store.record("bob") is None


def course_config(tmp_path, keys=""):
    """A hub config: directory homes in tmp_path, course physics (ada teaches, the
    group physics takes it, 1G) with ``keys`` added."""
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        "c = get_config()\n"
        "c.QuotaDockerSpawner.home_provisioner = 'directory'\n"
        f"c.HomeProvisioner.base_dir = {str(tmp_path / 'homes')!r}\n"
        "c.Courses.courses = {'physics': {'teachers': {'users': ['ada']},"
        f" 'students': {{'groups': ['physics']}}, 'size_limit': '1G'{keys}}}}}\n"
    )
    return config


def test_course_list_and_the_errors_before_any_home_is_touched(tmp_path):
    config = course_config(tmp_path)
    r = CliRunner().invoke(main, ["course", "list", "-f", str(config)])
    assert r.exit_code == 0, r.output
    assert r.output == "physics: teachers ada; students group:physics; size limit 1G\n"
    r = CliRunner().invoke(main, ["course", "archive", "art", "-f", str(config)])
    assert r.exit_code == 1
    assert "Error: no course 'art' in c.Courses.courses (declared: physics)" in r.output
    r = CliRunner().invoke(
        main, ["course", "restore", "physics", "ann", "-f", str(config), "-d", str(tmp_path)]
    )
    assert r.exit_code == 1 and f"Error: no archive of ann in {tmp_path}" in r.output
    config.write_text("c = get_config()\nc.Courses.courses = {'a/b': {}}\n")
    r = CliRunner().invoke(main, ["course", "list", "-f", str(config)])
    assert r.exit_code == 1 and "Error: c.Courses.courses: course name 'a/b'" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("nbgrader", [False, True], ids=["plain", "nbgrader"])
def test_a_course_whose_students_left_the_hub(tmp_path, nbgrader):
    """The hub lists no student of the course (only its teacher): a plain course has
    nothing to archive and is refused, archive folder untouched; an nbgrader course's
    data is still archived (here it has no folder on this host: nothing to archive,
    said so), the run says no student's home was and why, and exits 0."""
    config = course_config(tmp_path, f", 'nbgrader': {nbgrader}")
    hub = FakeHub()
    hub.route(
        "GET",
        "/user",
        200,
        {"name": "admin", "scopes": ["list:users", "read:users", "read:servers"]},
    )
    hub.route("GET", "/users", 200, [{"name": "ada", "groups": ["staff"], "servers": {}}])
    archive_dir = tmp_path / "arch"
    try:
        r = CliRunner().invoke(
            main,
            ["course", "archive", "physics", "-f", str(config), "-d", str(archive_dir)],
            env={"JUPYTERHUB_API_TOKEN": "t", "JUPYTERHUB_URL": hub.url},
        )
    finally:
        hub.close()
    nobody = "course physics has no students among the hub's users (its students: group:physics)"
    if not nbgrader:
        assert r.exit_code == 1 and f"Error: {nobody}\n" in r.output
        assert not archive_dir.exists()
        return
    assert r.exit_code == 0, r.output
    assert r.output == (
        "nbgrader data: course physics has no nbgrader folder here; nothing to archive\n"
        f"0 students archived, no student's home: {nobody}; see {archive_dir / 'SHA256SUMS'}\n"
    )
    assert sorted(p.name for p in archive_dir.iterdir()) == ["SHA256SUMS"]


def test_a_tar_written_by_someone_else_is_refused_by_its_record(tmp_path):
    """An archive swapped for another (same name) fails its SHA-256 before restore."""
    store = ArchiveDir(tmp_path, "p")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.addfile(member("home/x", mode=0o644), io.BytesIO(b""))
    store.tar("ann").write_bytes(buf.getvalue())
    store.save("ann", {"sha256": "f" * 64, "bytes": len(buf.getvalue()), "entries": {}})
    assert store.verified("ann")[0] is None


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (None, []),  # not a hub user: no server
        ({"name": "ann", "servers": {}}, []),
        ({"name": "ann"}, []),
        ({"servers": {"": {"ready": True, "pending": None}}}, ["their default server"]),
        ({"servers": {"": {"ready": False, "pending": "spawn"}}}, ["their default server"]),
        ({"servers": {"gpu": {"ready": True}, "": {"stopped": True}}}, ["gpu"]),
    ],
    ids=["unknown", "none", "no-servers-key", "ready", "starting", "named-and-stopped"],
)
def test_which_servers_count_as_running(model, expected):
    from jhub_kit.cli.course_use import running

    assert running(model) == expected


def test_the_listing_has_each_entrys_owner_and_differences_compare_it():
    from jhub_kit.provision.tree import stat_entry

    st = os.lstat(".")
    assert (stat_entry(st)["uid"], stat_entry(st)["gid"]) == (st.st_uid, st.st_gid)
    f = {"type": "file", "mode": 0o644, "mtime_ns": 5, "size": 3, "uid": 1000, "gid": 100}
    assert differences({"a": f}, {"a": {**f, "uid": 0}}) == ["a: uid changed"]
    old = {k: v for k, v in f.items() if k not in ("uid", "gid")}  # an older record
    assert differences({"a": old}, {"a": {**f, "uid": 0}}) == []


def _removal_tree(root):
    (root / "sub" / "deep").mkdir(parents=True)
    for rel in ("sub/a.txt", "sub/b.txt", "sub/deep/c.txt"):
        (root / rel).write_text(rel)
    (root / "ro").mkdir()
    (root / "ro" / "x").write_text("x")
    os.chmod(root / "ro", 0o555)  # its owner made it read-only
    os.symlink("/etc/passwd", root / "link")
    entries, _ = _list_tree(str(root), digests=False)
    return entries


def _names(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_removal_removes_only_what_is_as_archived(tmp_path):
    """The reset's removal (jhub_kit.provision.tree.remove_as_listed): an entry
    new or changed since the archive is left in place and stops the removal;
    checking first removes nothing and names every one; a link is never followed."""
    from jhub_kit.provision.tree import Kept, open_folder, remove_as_listed

    root = tmp_path / "t"
    root.mkdir()
    entries = _removal_tree(root)
    with open(root / "sub" / "b.txt", "a") as f:
        f.write(" and a late answer")
    (root / "sub" / "deep" / "new.txt").write_text("after the archive")
    before = _names(root)
    fd = open_folder(str(root), "")
    try:
        problems: list[str] = []
        for name in sorted(os.listdir(fd)):
            remove_as_listed(fd, name, name, entries, problems)
        assert problems == ["sub/b.txt: size, mtime_ns changed", "sub/deep/new.txt: new"]
        assert _names(root) == before
        remove_as_listed(fd, "ro", "ro", entries)  # read-only: made writable, removed
        remove_as_listed(fd, "link", "link", entries)
        with pytest.raises(Kept, match=r"sub/b\.txt: size, mtime_ns changed since the archive"):
            remove_as_listed(fd, "sub", "sub", entries)
    finally:
        os.close(fd)
    # a.txt was as archived (removed); b.txt and what comes after it are left
    assert _names(root) == ["sub", "sub/b.txt", "sub/deep", "sub/deep/c.txt", "sub/deep/new.txt"]
    assert os.path.exists("/etc/passwd")

    # a folder swapped for a link to another (the same name): left, and not followed
    other = tmp_path / "other"
    other.mkdir()
    (other / "c.txt").write_text("sub/deep/c.txt")
    (root / "sub" / "deep" / "new.txt").unlink()
    (root / "sub" / "deep" / "c.txt").unlink()
    (root / "sub" / "deep").rmdir()
    os.symlink(other, root / "sub" / "deep")
    fd = open_folder(str(root), "sub")
    try:
        with pytest.raises(Kept, match="a symlink, archived as a dir"):
            remove_as_listed(fd, "deep", "sub/deep", entries)
    finally:
        os.close(fd)
    assert (other / "c.txt").read_text() == "sub/deep/c.txt"


def test_what_a_reset_of_the_nbgrader_data_could_lose():
    """Gone entries (the archive holds them: a reset that stopped is run again) and a
    folder's mtime alone are not; anything new or changed is."""
    from jhub_kit.provision.nbgrader_term import not_archived

    d = {"type": "dir", "mode": 0o755, "mtime_ns": 1}
    f = {"type": "file", "mode": 0o644, "mtime_ns": 5, "size": 3}
    archived = {"staff": d, "staff/submitted": d, "staff/submitted/a": f, "staff/g.db": f}
    now = {"staff": {**d, "mtime_ns": 9}, "staff/g.db": {**f, "size": 4}, "staff/new": f}
    assert not_archived(archived, now) == ["staff/g.db: size changed", "staff/new: new"]
    assert not_archived(archived, {"staff": {**d, "mode": 0o700}}) == ["staff: mode changed"]


@pytest.mark.parametrize(
    ("source", "folder", "expected"),
    [
        ("/srv/nb/physics", "/srv/nb/physics", True),
        ("/srv/nb/physics/staff", "/srv/nb/physics/", True),
        ("/srv/nb/physics2", "/srv/nb/physics", False),
        ("/srv/nb", "/srv/nb/physics", False),
    ],
    ids=["itself", "in-it", "a-sibling-with-its-name-first", "its-parent"],
)
def test_which_mounts_use_a_folder(source, folder, expected):
    from jhub_kit.cli.course_use import under

    assert under(source, folder) is expected


def test_a_course_member_with_a_server_running_or_starting():
    from jhub_kit.cli.course_use import members_running

    users = {
        "ada": {"servers": {"": {"pending": "spawn"}}},
        "ann": {"servers": {}},
        "ben": {"servers": {"gpu": {"ready": True}}},
    }
    got = members_running(["ada", "ann", "ben", "nobody"], users)
    assert got == ["ada's server (their default server)", "ben's server (gpu)"]


def test_the_archive_step_skips_the_unchanged_refuses_after_a_reset_and_writes_else(tmp_path):
    """ArchiveDir.archive, the step `course archive` takes for each home and for the
    nbgrader data: written; skipped while verified and unchanged; written again after
    a change; refused after a reset unless replace."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "a.txt").write_text("one")
    owner = (os.getuid(), os.getgid())
    store = ArchiveDir(tmp_path / "arch", "physics")
    store.create()
    made, refused = store.archive("ann", home, owner)
    assert refused == "" and made is not None and "a.txt" in str(made["entries"])
    assert store.verified("ann")[0] == made
    assert store.archive("ann", home, owner) == (None, "")  # unchanged: skipped
    (home / "a.txt").write_text("two")
    again, refused = store.archive("ann", home, owner)
    assert refused == "" and again is not None and again["sha256"] != made["sha256"]
    store.mark_reset("ann")
    (home / "b.txt").write_text("the new term's")
    made, refused = store.archive("ann", home, owner)
    assert made is None and "was reset at" in refused and "--replace" in refused
    made, refused = store.archive("ann", home, owner, replace=True)
    assert refused == "" and made is not None
    # the nbgrader data: key None, its own members' prefix
    data, refused = store.archive(None, home, owner, prefix=NBGRADER_PART)
    assert refused == "" and data is not None
    with tarfile.open(store.tar(None)) as tar:
        assert all(n.split("/")[0] == NBGRADER_PART for n in tar.getnames()), tar.getnames()


def test_a_homes_reset_removes_only_what_is_as_archived(tmp_path):
    """empty_home with the archive's listing (what `course reset` does): a file that
    came after the check stops the emptying and is kept; a socket (no data, never
    archived) goes; once the new file is moved away the home empties."""
    import socket as sockets

    from jhub_kit.provision.archive import empty_home, listing

    home = tmp_path / "home"
    (home / "work").mkdir(parents=True)
    (home / "work" / "a.ipynb").write_text("{}")
    (home / "notes.txt").write_text("n")
    owner = (os.getuid(), os.getgid())
    entries, _ = listing(home, owner, digests=False)
    (home / "work" / "late.ipynb").write_text("written after the check")
    with sockets.socket(sockets.AF_UNIX) as s:
        s.bind(str(home / "agent.sock"))
    with pytest.raises(ProvisionError, match=r"work/late\.ipynb: new since the archive"):
        empty_home(home, owner, entries)
    assert (home / "work" / "late.ipynb").read_text() == "written after the check"
    assert not (home / "agent.sock").exists()  # before "notes.txt" and "work" in order
    (home / "work" / "late.ipynb").rename(tmp_path / "late.ipynb")
    empty_home(home, owner, entries)
    assert list(home.iterdir()) == []
    # ext4's lost+found (a folder) stays; a student's link of that name is theirs
    (home / "lost+found").mkdir()
    entries, _ = listing(home, owner, digests=False)
    empty_home(home, owner, entries)
    assert [p.name for p in home.iterdir()] == ["lost+found"]
    (home / "lost+found").rmdir()
    os.symlink(str(tmp_path), home / "lost+found")
    entries, _ = listing(home, owner, digests=False)
    assert "lost+found" in entries
    empty_home(home, owner, entries)
    assert list(home.iterdir()) == []
    # a changed file is kept too
    (home / "notes.txt").write_text("n")
    entries, _ = listing(home, owner, digests=False)
    (home / "notes.txt").write_text("changed")
    with pytest.raises(ProvisionError, match=r"notes\.txt: size"):
        empty_home(home, owner, entries)
    assert (home / "notes.txt").read_text() == "changed"
