"""A home with no byte or no inode left (issue 37): pure, no engine.

- when a measure says a home is full (:attr:`Usage.full`);
- the description of a server whose home is full: its runtime files outside the
  home (always), the notice page as its landing page, deletes that skip the
  trash, the notices mounted read-only; none of it for a home with room;
- the pool takes such a start: same key, no refusal, no slot for the notices
  (every member has them);
- the hub's page says "full";
- the spawner's input (measured, and the option).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_spec import inputs, member_mounts

from jhub_kit import spec
from jhub_kit.provision import Usage
from jhub_kit.provision.base import FULL_BYTES, FULL_FILES
from jhub_kit.quota.policy import Quota
from jhub_kit.spec import make_spec
from jhub_kit.views.student import student_view

M = 1024**2
HOME = {"Target": "/home/jovyan", "Source": "/srv/homes/alice", "Type": "bind", "ReadOnly": False}
NOTICE_ARGS = [
    f"--ServerApp.extra_static_paths={spec.NOTICES_PATH}",
    f"--ServerApp.default_url=/static/{spec.HOME_FULL_PAGE}",
    "--FileContentsManager.delete_to_trash=False",
    "--FileContentsManager.always_delete_dir=True",
]


@pytest.mark.parametrize(
    "free, files_free, full",
    [
        (None, None, ""),  # not told (a directory home, a volume)
        (0, 5000, "space"),
        (FULL_BYTES - 1, 5000, "space"),
        (FULL_BYTES, 5000, ""),
        (50 * M, 0, "files"),
        (50 * M, FULL_FILES - 1, "files"),
        (50 * M, FULL_FILES, ""),
        (0, 0, "space"),  # both: space is said first
        (50 * M, None, ""),  # btrfs counts no inodes
    ],
    ids=lambda v: repr(v),
)
def test_when_a_home_is_full(free, files_free, full):
    assert Usage(40 * M, 50 * M, free=free, files_free=files_free).full == full


def _mounts(described):
    return {m["Target"]: m for m in described.host_config["mounts"]}


def test_every_server_keeps_its_runtime_files_outside_the_home():
    for full in ("", "space"):
        described = make_spec(inputs(home=HOME, home_full=full))
        assert described.env["JUPYTER_RUNTIME_DIR"] == spec.RUNTIME_DIR
        assert not spec.inside(spec.RUNTIME_DIR, HOME["Target"])
    # the spawner's own environment (an admin's ``environment``) wins
    mine = make_spec(inputs(env={"JUPYTER_RUNTIME_DIR": "/run/mine"}))
    assert mine.env["JUPYTER_RUNTIME_DIR"] == "/run/mine"


def test_a_home_with_room_gets_no_notice():
    described = make_spec(inputs(home=HOME))
    assert described.args == ["--port=8888"]
    assert spec.NOTICES_PATH not in _mounts(described)
    assert not any("default_url" in a or "trash" in a for a in described.create["command"])


@pytest.mark.parametrize("why", ["space", "files"])
def test_a_full_home_opens_on_the_notice_and_deletes_at_once(why):
    described = make_spec(inputs(home=HOME, home_full=why, args=["--port=8888", "--x=1"]))
    # after the spawner's own arguments: the notice wins over any default_url
    assert described.args == ["--port=8888", "--x=1", *NOTICE_ARGS]
    assert described.create["command"] == ["jupyterhub-singleuser", *described.args]
    notices = _mounts(described)[spec.NOTICES_PATH]
    assert notices == {
        "Target": spec.NOTICES_PATH,
        "Source": spec.NOTICES_DIR,
        "Type": "bind",
        "ReadOnly": True,
    }
    assert not spec.inside(spec.NOTICES_PATH, HOME["Target"])
    assert _mounts(described)["/home/jovyan"] == HOME  # the home itself unchanged


def test_the_notice_page_ships_with_the_kit():
    text = Path(spec.NOTICES_DIR, spec.HOME_FULL_PAGE).read_text(encoding="utf-8")
    assert "Your home folder is full" in text
    assert 'href="../lab"' in text  # from <base>/static/ into JupyterLab
    assert "teacher" in text and "trash" in text
    # the whole directory is served by the student's server: nothing else in it
    assert os.listdir(spec.NOTICES_DIR) == [spec.HOME_FULL_PAGE]


def test_the_pool_takes_a_start_whose_home_is_full():
    member = make_spec(inputs(env={}, args=[], name="", home=HOME))
    full = make_spec(inputs(home=HOME, home_full="files"))
    assert spec.pool_key(full) == spec.pool_key(member)
    assert spec.pool_refusals(full, spec.fixed_part(member)) == []
    assert spec.slots(full.mounts) == ("/home/jovyan",)
    assert [p.mount.target for p in spec.mount_plan(full)] == ["/home/jovyan"]
    bound = member_mounts(member)
    assert bound[spec.NOTICES_PATH]["Source"] == spec.NOTICES_DIR
    assert bound[spec.NOTICES_PATH]["ReadOnly"] is True


def test_another_mount_at_the_notices_path_is_the_servers_own():
    """Only the kit's own read-only notices are the members'; an admin's volume at
    that path is a mount like any other (a slot, mounted at hand-over)."""
    described = make_spec(
        inputs(volume_binds={"/srv/mine": {"bind": spec.NOTICES_PATH, "mode": "ro"}})
    )
    assert spec.slots(described.mounts) == (spec.NOTICES_PATH,)


Q = Quota(mem_limit=512 * M, cpu_limit=1.0, disk_limit=50 * M)


def _home_row(usage):
    return next(r for r in student_view(Q, usage, None)["rows"] if r["label"] == "Home")


def test_the_hubs_page_says_full():
    # ext4 keeps blocks of its own: 98% used of the filesystem, nothing left to write
    row = _home_row(Usage(40 * M, 41 * M, free=0, files_free=9000))
    assert row["percent"] == 100
    assert "(100%): full, no space left" in row["value"]
    assert "Delete files" in row["value"] and "teacher" in row["value"]
    row = _home_row(Usage(1 * M, 41 * M, free=40 * M, files_free=0))
    assert "full, no more files (too many files) left" in row["value"]
    assert row["percent"] == 2
    row = _home_row(Usage(38 * M, 41 * M, free=3 * M, files_free=9000))
    assert "nearly full" in row["value"] and ": full," not in row["value"]


def _spawner(**config):
    from traitlets.config import Config

    from jhub_kit import resolve
    from jhub_kit.provision import HomeMount

    c = Config()
    for key, value in config.items():
        setattr(c.QuotaDockerSpawner, key, value)
    sp = resolve.configured_spawner(c, "alice", [])
    sp.home_mount = HomeMount("/srv/homes/alice")
    return sp


@pytest.mark.parametrize(
    "config, usage, expected",
    [
        ({}, Usage(40 * M, 41 * M, free=0, files_free=10), "space"),
        ({}, Usage(1 * M, 41 * M, free=40 * M, files_free=0), "files"),
        ({}, Usage(1 * M, 41 * M, free=40 * M, files_free=900), ""),
        ({}, None, ""),  # not measured
        ({"home_full_notice": False}, Usage(40 * M, 41 * M, free=0, files_free=10), ""),
    ],
    ids=["space", "files", "room", "unmeasured", "notice-off"],
)
def test_the_spawners_input(config, usage, expected):
    sp = _spawner(**config)
    sp.home_usage = usage
    assert sp.home_full_now() == expected


def test_no_home_of_the_kits_no_notice():
    sp = _spawner()
    sp.home_mount = None
    sp.home_usage = Usage(40 * M, 41 * M, free=0)
    assert sp.home_full_now() == ""
