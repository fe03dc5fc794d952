"""Pure tests of the provisioners' parsing, paths and LVM command sequence."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jhub_kit.names import safe_name
from jhub_kit.provision import BACKENDS, ProvisionError, provisioner_class
from jhub_kit.provision.btrfs import parse_qgroup_show
from jhub_kit.provision.commands import CommandError, Result, run
from jhub_kit.provision.directory import DirectoryProvisioner
from jhub_kit.provision.lvm import LvmProvisioner
from jhub_kit.provision.mounts import LoopDevices, loop_shortage, parse_mountinfo
from jhub_kit.quota.policy import Quota

MOUNTINFO = (
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "90 22 7:1 / /srv/homes/al\\040ice rw,nosuid,nodev shared:50 - ext4 /dev/loop1 rw\n"
    "91 22 0:45 / /srv/homes/.pool rw - btrfs /dev/loop2 rw,space_cache=v2\n"
)


def test_parse_mountinfo():
    entries = parse_mountinfo(MOUNTINFO)
    assert [(e.mountpoint, e.fstype, e.source) for e in entries] == [
        ("/", "ext4", "/dev/vda"),
        ("/srv/homes/al ice", "ext4", "/dev/loop1"),
        ("/srv/homes/.pool", "btrfs", "/dev/loop2"),
    ]


QGROUP = """qgroupid         rfer         excl     max_rfer     max_excl
--------         ----         ----     --------     --------
0/257        16777216     16777216     52428800         none
"""


def test_parse_qgroup_show():
    assert parse_qgroup_show(QGROUP) == (16777216, 52428800)
    assert parse_qgroup_show(QGROUP.replace("52428800", "    none")) == (16777216, None)
    assert parse_qgroup_show("nothing") is None


@settings(max_examples=2000, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_no_username_leaves_base(username):
    p = DirectoryProvisioner(base_dir="/srv/jupyterhub/homes")
    path = p.under(safe_name(username))
    assert os.path.dirname(path) == "/srv/jupyterhub/homes"
    assert len(path.name.encode()) <= 255


@pytest.mark.parametrize("part", ["..", ".", "", "a/b", "x\0y"])
def test_under_refuses_unsafe_parts(part):
    with pytest.raises(ProvisionError, match="refusing unsafe path component"):
        DirectoryProvisioner(base_dir="/srv/h").under(part)


def test_every_backend_resolves():
    for name in BACKENDS:
        assert provisioner_class(name).backend == name
    with pytest.raises(ValueError, match="unknown home provisioner 'zfs'"):
        provisioner_class("zfs")


async def test_commands_run_and_errors():
    r = await run("printf", "%s", "$(id) stays literal")
    assert r.stdout == "$(id) stays literal"
    with pytest.raises(CommandError, match=r"`false` exited with 1: no output"):
        await run("false")
    with pytest.raises(CommandError, match=r"timed out after 0\.2 s"):
        await run("sleep", "5", timeout=0.2)
    with pytest.raises(CommandError, match="no-such-tool is not installed"):
        await run("no-such-tool")


class Recorder:
    """Stands in for the command runner: records argv, answers like LVM would."""

    def __init__(self, lv_exists: bool, fs: str | None, fail: dict[str, Result] | None = None):
        self.calls: list[list[str]] = []
        self.lv_exists, self.fs = lv_exists, fs
        self.fail = fail or {}

    async def __call__(self, *argv: str, check: bool = True, **kw) -> Result:
        self.calls.append(list(argv))
        if argv[0] in self.fail:
            r = self.fail[argv[0]]
            if check:
                raise CommandError(argv, f"exited with {r.returncode}: {r.stderr.strip()}")
            return r
        if argv[0] == "lvs":
            if self.lv_exists:
                return Result(list(argv), 0, f"  {100 * 1024**2}\n", "")
            return Result(list(argv), 5, "", f'  Failed to find logical volume "{argv[-1]}"\n')
        if argv[0] == "blkid":
            return Result(list(argv), 0 if self.fs else 2, f"{self.fs}\n" if self.fs else "", "")
        return Result(list(argv), 0, "", "")


@pytest.fixture
def lvm(tmp_path, monkeypatch):
    def make(lv_exists: bool, fs: str | None, fail: dict[str, Result] | None = None):
        p = LvmProvisioner(base_dir=str(tmp_path), volume_group="user_vg", disable_udev=True)
        rec = Recorder(lv_exists, fs, fail)
        monkeypatch.setattr(p, "run", rec)
        monkeypatch.setattr(p, "is_mounted", _false)
        monkeypatch.setattr(p, "own_root", _none)
        # no chown: these tests run without root
        monkeypatch.setattr(p, "ensure_dir", lambda path, **kw: path.mkdir(exist_ok=True))
        return p, rec

    return make


async def _false(*a):
    return False


async def _none(*a):
    return None


async def test_lvm_first_provision_sequence(lvm, tmp_path):
    p, rec = lvm(lv_exists=False, fs=None)
    m = await p.provision("Rai koug", Quota(disk_limit=100 * 1024**2))
    name = safe_name("Rai koug")
    home = str(tmp_path / name)
    assert m.source == home
    assert rec.calls == [
        [
            "lvs",
            "--noheadings",
            "--nosuffix",
            "--units",
            "b",
            "-o",
            "lv_size",
            f"user_vg/jhub-{name}",
        ],
        [
            "lvcreate",
            "--yes",
            "--wipesignatures",
            "y",
            "-L",
            "104857600b",
            "-n",
            f"jhub-{name}",
            "user_vg",
        ],
        ["blkid", "-p", "-o", "value", "-s", "TYPE", f"/dev/user_vg/jhub-{name}"],
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-m",
            "0",
            "-E",
            "root_owner=1000:100",
            f"/dev/user_vg/jhub-{name}",
        ],
        ["mount", "-o", "nosuid,nodev", "--", f"/dev/user_vg/jhub-{name}", home],
    ]


async def test_lvm_existing_volume_is_activated_never_formatted_and_grown(lvm, tmp_path):
    p, rec = lvm(lv_exists=True, fs="ext4")
    await p.provision("bob", Quota(disk_limit=200 * 1024**2))
    assert [c[0] for c in rec.calls] == ["lvs", "lvchange", "blkid", "mount", "lvextend"]
    assert rec.calls[1] == ["lvchange", "--activate", "y", "user_vg/jhub-bob"]
    assert rec.calls[-1] == ["lvextend", "--resizefs", "-L", "209715200b", "user_vg/jhub-bob"]


async def test_lvm_refuses_to_format_an_existing_volume_without_filesystem(lvm):
    p, rec = lvm(lv_exists=True, fs=None)
    with pytest.raises(ProvisionError, match="holds no filesystem; refusing to format it"):
        await p.provision("bob", Quota())
    assert not any(c[0].startswith("mkfs") for c in rec.calls)
    assert not any(c[0] == "lvremove" for c in rec.calls)  # it was not ours to remove


async def test_lvm_needs_a_volume_group(tmp_path):
    p = LvmProvisioner(base_dir=str(tmp_path))
    with pytest.raises(ProvisionError, match=r"set c\.LvmProvisioner\.volume_group"):
        await p.provision("bob", Quota())


async def test_lvm_failure_after_lvcreate_rolls_back(lvm, tmp_path):
    """mkfs fails on a new volume: the volume and the mount point this call made go."""
    p, rec = lvm(lv_exists=False, fs=None, fail={"mkfs.ext4": Result([], 1, "", "bad disk\n")})
    with pytest.raises(ProvisionError, match=r"cannot provision bob's lvm home: .*bad disk"):
        await p.provision("bob", Quota(disk_limit=100 * 1024**2))
    assert [c[0] for c in rec.calls] == ["lvs", "lvcreate", "blkid", "mkfs.ext4", "lvremove"]
    assert rec.calls[-1] == ["lvremove", "--yes", "user_vg/jhub-bob"]
    assert not (tmp_path / "bob").exists()
    assert p.state.get("bob") is None


async def test_lvm_full_volume_group_names_group_and_free_space(lvm):
    full = Result(
        [],
        5,
        "",
        '  Volume group "user_vg" has insufficient free space (3 extents): 25 required.\n',
    )
    p, rec = lvm(lv_exists=False, fs=None, fail={"lvcreate": full})
    rec_vgs = Result([], 0, "  12.00m\n", "")
    orig = rec.__call__

    async def answer(*argv, **kw):
        if argv[0] == "vgs":
            rec.calls.append(list(argv))
            return rec_vgs
        return await orig(*argv, **kw)

    p.run = answer
    with pytest.raises(
        ProvisionError,
        match=r"volume group user_vg is full: 100M asked for "
        r"jhub-bob, 12\.00m free",
    ):
        await p.provision("bob", Quota(disk_limit=100 * 1024**2))
    assert not any(c[0] in ("mkfs.ext4", "lvremove") for c in rec.calls)


LOOPS = tuple(f"/dev/loop{i}" for i in range(8))


@pytest.mark.parametrize(
    "devices, error, expected",
    [
        # a free device: the failure is something else (a broken image, say)
        (LoopDevices(LOOPS, LOOPS[:7], True), "failed to setup loop device", None),
        # all busy, the kernel may add one: only mount's own words tell it failed for that
        (LoopDevices(LOOPS, LOOPS, True), "wrong fs type, bad superblock", None),
        (
            LoopDevices(LOOPS, LOOPS, True),
            "mount: /h: failed to setup loop device for /i.img.",
            "all 8 loop devices this process can see (/dev/loop0 to /dev/loop7) are in use, "
            "and the ones the kernel adds do not appear in its /dev",
        ),
        # a container's /dev without loop-control: whatever mount says
        (
            LoopDevices(LOOPS[:2], LOOPS[:2], False),
            "mount failed: Operation not permitted",
            "/dev/loop-control is missing, so none can be added",
        ),
        ((LoopDevices((), (), False)), "", "this process sees no loop device at all"),
    ],
)
def test_loop_shortage(devices, error, expected):
    got = loop_shortage(devices, error)
    if expected is None:
        assert got is None
    else:
        assert expected in got and "-v /dev:/dev" in got and "losetup -d" in got


def test_a_home_of_many_files_is_measured_in_bounded_time(tmp_path):
    """A student with very many small files: the walk stops at the cap and says so."""
    from jhub_kit.provision.base import dir_size

    for i in range(50):
        d = tmp_path / f"d{i}"
        d.mkdir()
        for j in range(100):
            (d / f"f{j}").write_bytes(b"x" * 10)
    full, complete = dir_size(tmp_path)
    assert complete and full > 0
    part, complete = dir_size(tmp_path, max_entries=500)  # 500 entries of 5,050
    assert not complete and 0 < part < full
