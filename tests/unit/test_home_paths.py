"""Directories root makes in a student's home (jhub_kit.provision.paths): never
through a link the student planted; made for the home's owner."""

from __future__ import annotations

import os

import pytest

from jhub_kit.provision.paths import UnsafePath, dir_in, fd_of, make_dirs, writable_by


def test_makes_each_missing_directory_for_the_owner(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    make_dirs(str(home), "work/deep", uid=os.getuid(), gid=os.getgid())
    assert (home / "work" / "deep").is_dir()
    assert oct((home / "work").stat().st_mode & 0o777) == "0o755"


@pytest.mark.parametrize("planted", ["work", "work/deep"])
def test_a_planted_symlink_is_refused_not_followed(tmp_path, planted):
    home, outside = tmp_path / "home", tmp_path / "etc"
    home.mkdir()
    outside.mkdir()
    parent = (home / planted).parent
    parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, home / planted)
    with pytest.raises(UnsafePath, match="not a directory"):
        make_dirs(str(home), "work/deep/x", uid=os.getuid(), gid=os.getgid())
    assert list(outside.iterdir()) == []


def test_a_file_in_the_way_and_dot_dot_are_refused(tmp_path):
    (tmp_path / "work").write_text("not a dir")
    with pytest.raises(UnsafePath):
        make_dirs(str(tmp_path), "work", uid=os.getuid(), gid=os.getgid())
    with pytest.raises(UnsafePath, match="leaves the home"):
        make_dirs(str(tmp_path), "../x", uid=os.getuid(), gid=os.getgid())


def test_the_descriptor_names_the_directory_itself(tmp_path):
    with dir_in(str(tmp_path), "a/b", uid=os.getuid(), gid=os.getgid()) as target:
        assert os.path.samefile(target, tmp_path / "a" / "b")
        os.rename(tmp_path / "a", tmp_path / "moved")  # renamed away: still that directory
        assert os.path.samefile(target, tmp_path / "moved" / "b")
        fd = fd_of(target)
    with pytest.raises(OSError):
        os.fstat(fd)  # closed after the block


@pytest.mark.parametrize(
    "mode, owner, expected",
    [
        (0o755, (1000, 100), True),
        (0o555, (1000, 100), False),
        (0o775, (0, 100), True),
        (0o755, (0, 100), False),
        (0o777, (0, 0), True),
    ],
)
def test_writable_by(tmp_path, mode, owner, expected):
    st = os.stat(tmp_path)
    fake = os.stat_result((st.st_mode & ~0o7777 | mode, 0, 0, 1, *owner, 0, 0, 0, 0))
    assert writable_by(fake, 1000, 100) is expected
