"""Faults lose nothing: a home the state lists is never re-created empty, a base_dir
whose disk is missing is refused, a corrupt state is kept and refused, a full disk
rolls back. Real loop devices, mounts and filesystems (root)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import pytest
from click.testing import CliRunner
from conftest import run

from jhub_kit.cli import main
from jhub_kit.cli.doctor_cmd import loop_problem
from jhub_kit.provision import HomeUnavailable, ProvisionError
from jhub_kit.provision.btrfs import BtrfsProvisioner
from jhub_kit.provision.directory import DirectoryProvisioner
from jhub_kit.provision.loopfile import LoopfileProvisioner
from jhub_kit.provision.mounts import mounted_at
from jhub_kit.quota.policy import Quota

pytestmark = pytest.mark.root

Q = Quota(disk_limit=40 * 1024**2)


def write_file(home, name: str, data: bytes) -> None:
    with open(os.path.join(home, name), "wb") as f:
        f.write(data)


def config_file(tmp_path, base, backend="loopfile"):
    cfg = tmp_path / "jupyterhub_config.py"
    cfg.write_text(
        "c = get_config()\n"
        f"c.QuotaDockerSpawner.home_provisioner = {backend!r}\n"
        f"c.HomeProvisioner.base_dir = {str(base)!r}\n"
    )
    return cfg


async def cli(*args: str):
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_missing_image_is_refused_never_recreated_empty(mount_area, tmp_path):
    base = mount_area / "homes"
    p = LoopfileProvisioner(base_dir=str(base))
    m = await p.provision("alice", Q)
    write_file(m.source, "thesis.txt", b"three years of work")
    await p.umount(base / p.state.get("alice")["name"])
    image = p.image_path(p.state.get("alice"))
    os.rename(image, tmp_path / "elsewhere.img")  # a disk that did not come back

    with pytest.raises(HomeUnavailable) as err:
        await p.provision("alice", Q)
    msg = str(err.value)
    assert f"its image file {image} is missing" in msg
    assert "jhub-kit home restore alice" in msg and "jhub-kit home reset alice" in msg
    assert err.value.user_message == "Your home is unavailable; your teacher has been told."
    assert not image.exists(), "an empty image was made"
    assert mounted_at(base / "alice") is None

    # doctor names it, with the fix
    cfg = config_file(tmp_path, base)
    r = await cli("doctor", "-f", str(cfg))
    assert "1 of 1 home(s) unavailable" in r.output and "image file" in r.output, r.output

    # the image comes back: the same data, nothing lost
    os.rename(tmp_path / "elsewhere.img", image)
    m = await p.provision("alice", Q)
    with open(os.path.join(m.source, "thesis.txt"), "rb") as f:
        assert f.read() == b"three years of work"

    # reset refuses a home that is there
    r = await cli("home", "reset", "alice", "-f", str(cfg), "--yes")
    assert r.exit_code == 1 and "is there, not missing" in r.output, r.output


async def test_reset_and_restore_give_a_missing_home_back(mount_area, tmp_path):
    base = mount_area / "homes"
    cfg = config_file(tmp_path, base)
    p = LoopfileProvisioner(base_dir=str(base))
    m = await p.provision("bob", Q)
    write_file(m.source, "notes.txt", b"keep me")
    archive = tmp_path / "bob.tar.gz"
    assert (await cli("home", "backup", "bob", "-f", str(cfg), "-o", str(archive))).exit_code == 0
    await p.umount(base / "bob")
    p.image_path(p.state.get("bob")).unlink()

    # restore brings it back from the archive
    r = await cli("home", "restore", "bob", str(archive), "-f", str(cfg))
    assert r.exit_code == 0, r.output
    with open(base / "bob" / "notes.txt", "rb") as f:
        assert f.read() == b"keep me"

    # reset: the record is retired, the next provision makes a fresh home
    await p.umount(base / "bob")
    p.image_path(p.state.get("bob")).unlink()
    r = await cli("home", "reset", "bob", "-f", str(cfg), "--yes")
    assert r.exit_code == 0, r.output
    doc = json.loads((base / ".jhub-kit-state.json").read_text())
    assert "bob" not in doc["users"] and doc["retired"][0]["user"] == "bob"
    m = await p.provision("bob", Q)
    assert not os.path.exists(os.path.join(m.source, "notes.txt"))


async def test_base_dir_whose_disk_is_missing_is_refused(mount_area):
    """base_dir is a mount point; its disk does not mount: nothing lands on the root fs."""
    disk = mount_area / "disk.img"
    run("truncate", "-s", "200M", str(disk))
    run("mkfs.ext4", "-q", str(disk))
    base = mount_area / "homes"
    base.mkdir()
    run("mount", "-o", "loop", str(disk), str(base))
    p = DirectoryProvisioner(base_dir=str(base))
    await p.provision("carol", Quota())
    run("umount", str(base))  # the reboot where the disk did not mount

    p2 = DirectoryProvisioner(base_dir=str(base))
    for user in ("carol", "dan"):  # a listed user, and a new one
        with pytest.raises(HomeUnavailable, match="base_dir is not the filesystem it was"):
            await p2.provision(user, Quota())
    assert os.listdir(base) == [], "homes were created on the wrong disk"

    # another disk mounted there (with homes of its own) is refused too
    other = mount_area / "other.img"
    run("truncate", "-s", "200M", str(other))
    run("mkfs.ext4", "-q", str(other))
    run("mount", "-o", "loop", str(other), str(base))
    await DirectoryProvisioner(
        base_dir=str(base), state_mirror=str(mount_area / "unrelated.json")
    ).provision("zed", Quota())
    with pytest.raises(HomeUnavailable, match="another disk is mounted"):
        await p2.provision("carol", Quota())
    run("umount", str(base))

    # the right disk back: carol's home is there
    run("mount", "-o", "loop", str(disk), str(base))
    m = await p2.provision("carol", Quota())
    assert os.path.isdir(m.source)


async def test_corrupt_state_is_kept_and_refused(mount_area):
    base = mount_area / "homes"
    p = DirectoryProvisioner(base_dir=str(base))
    await p.provision("erin", Quota())
    state = base / ".jhub-kit-state.json"
    good = state.read_text()
    state.write_text(good[: len(good) // 2])  # truncated by a crash elsewhere
    with pytest.raises(HomeUnavailable, match="is corrupt") as err:
        await p.provision("erin", Quota())
    kept = [f for f in os.listdir(base) if f.startswith(".jhub-kit-state.json.corrupt-")]
    assert kept and str(base / kept[0]) in str(err.value)
    assert state.read_text() == good[: len(good) // 2], "the broken state was overwritten"
    # the mirror beside base_dir holds the last good copy
    mirror = mount_area / ".homes.jhub-kit-state.json"
    assert json.loads(mirror.read_text())["users"]["erin"]["name"] == "erin"


async def test_full_disk_rolls_back_and_says_so(mount_area):
    disk = mount_area / "small.img"
    run("truncate", "-s", "16M", str(disk))
    run("mkfs.ext4", "-q", "-m", "0", str(disk))
    base = mount_area / "homes"
    base.mkdir()
    run("mount", "-o", "loop", str(disk), str(base))
    p = LoopfileProvisioner(base_dir=str(base))
    await p.provision("fay", Quota(disk_limit=8 * 1024**2))
    # something else fills the disk (homes are sparse: their writes come later)
    subprocess.run(["dd", "if=/dev/zero", f"of={base}/filler", "bs=64k"], capture_output=True)
    with pytest.raises(ProvisionError, match=f"the disk holding {base} is full") as err:
        await p.provision("gus", Quota(disk_limit=1024**3))  # mkfs cannot write its metadata
    assert "gus" in str(err.value)
    assert sorted(os.listdir(base / ".images")) == ["fay.img"], "half-made image left behind"
    assert not (base / "gus").exists()
    assert p.state.get("gus") is None
    assert mounted_at(base / "fay") is not None  # others untouched


async def test_btrfs_pool_image_missing_is_refused(mount_area):
    base = mount_area / "homes"
    p = BtrfsProvisioner(base_dir=str(base), pool_image_size="300M")
    await p.provision("hal", Q)
    run("umount", str(p.pool()))
    p.pool_image().rename(mount_area / "pool-away.img")
    with pytest.raises(HomeUnavailable, match=r"pool image .* is missing"):
        await p.provision("hal", Q)
    with pytest.raises(HomeUnavailable):
        await p.provision("ida", Q)  # not even for a new user: the pool held others
    assert not p.pool_image().exists()


async def test_mount_failure_of_an_existing_image_is_unavailable(mount_area):
    base = mount_area / "homes"
    p = LoopfileProvisioner(base_dir=str(base))
    await p.provision("jo", Q)
    await p.umount(base / "jo")
    image = p.image_path(p.state.get("jo"))
    # damage the superblock: the filesystem no longer mounts (and blkid finds none)
    with open(image, "r+b") as f:
        f.seek(1024)
        f.write(b"\0" * 1024)
    with pytest.raises(HomeUnavailable, match="refusing to format it"):
        await p.provision("jo", Q)
    assert os.path.getsize(image) == 40 * 1024**2  # kept, not replaced


@pytest.mark.parametrize(
    ("backend", "breakage", "expected"),
    [
        ("directory", "file-in-the-way", "exists and is not a directory"),
        ("loopfile", "symlinked-images", "resolves outside"),
        ("btrfs", "missing-device", "cannot provision kim's btrfs home"),
        ("docker-volume", "no-engine", "cannot provision kim's docker-volume home"),
        ("system-user", "group-exists", "cannot provision kim's system-user home"),
    ],
)
async def test_every_backend_failure_is_a_provision_error(mount_area, backend, breakage, expected):
    """One contract: whatever fails underneath, the caller gets a ProvisionError and
    nothing half-made is left (the student sees a message, not a traceback)."""
    from jhub_kit.provision import provisioner_class

    base = mount_area / "homes"
    base.mkdir()
    kwargs: dict = {"base_dir": str(base)}
    user = "kim"
    cleanup = []
    if breakage == "file-in-the-way":
        (base / user).write_text("not a home")
    elif breakage == "symlinked-images":
        os.symlink("/etc", base / ".images")
    elif breakage == "missing-device":
        kwargs["pool_device"] = str(mount_area / "no-such-device")
    elif breakage == "no-engine":
        import docker

        kwargs["docker_client"] = docker.APIClient(
            base_url="unix:///nonexistent.sock", version="1.41"
        )
    elif breakage == "group-exists":
        user = "jhubkitgrp"
        subprocess.run(["groupadd", user], check=True)
        cleanup.append(["groupdel", user])
        expected = expected.replace("kim", user)
    try:
        p = provisioner_class(backend)(**kwargs)
        with pytest.raises(ProvisionError, match=expected):
            await p.provision(user, Q)
        assert p.state.get(user) is None
    finally:
        for cmd in cleanup:
            subprocess.run(cmd, check=False)


KILLED_AT = """
import asyncio, os, signal, sys
from jhub_kit.provision.loopfile import LoopfileProvisioner
from jhub_kit.quota.policy import Quota

p = LoopfileProvisioner(base_dir=sys.argv[1])


async def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the hub killed with kill -9, right here


setattr(p, sys.argv[2], die)
asyncio.run(p.provision("kim", Quota(disk_limit=40 * 1024**2)))
"""


@pytest.mark.parametrize("point", ["mkfs", "own_root"])
async def test_first_provision_killed_midway_is_finished_next_time(mount_area, point):
    """kill -9 between making the image and formatting it (or after mounting): the
    record written first says the half-made home is ours; the next provision finishes
    it instead of refusing an image without a filesystem forever."""
    import sys

    base = mount_area / "homes"
    r = subprocess.run([sys.executable, "-c", KILLED_AT, str(base), point])
    assert r.returncode == -9
    p = LoopfileProvisioner(base_dir=str(base))
    assert p.state.get("kim")["creating"] is True
    m = await p.provision("kim", Q)
    write_file(m.source, "ok.txt", b"fine")
    assert "creating" not in p.state.get("kim")
    assert len(os.listdir(base / ".images")) == 1


async def test_a_foreign_file_is_still_refused_for_a_new_user(mount_area):
    base = mount_area / "homes"
    (base / ".images").mkdir(parents=True)
    (base / ".images" / "lea.img").write_bytes(b"\0" * 4096)  # not ours: no record
    p = LoopfileProvisioner(base_dir=str(base))
    with pytest.raises(ProvisionError, match="holds no filesystem; refusing to format it"):
        await p.provision("lea", Q)
    assert (base / ".images" / "lea.img").read_bytes() == b"\0" * 4096
    assert p.state.get("lea") is None


EXHAUSTED = """
import asyncio, json, os, subprocess, sys
from jhub_kit.provision import ProvisionError
from jhub_kit.provision.loopfile import LoopfileProvisioner
from jhub_kit.quota.policy import Quota

base, control, busy = sys.argv[1], sys.argv[2] == "control", sys.argv[3:]
rdev = {dev: os.stat(dev).st_rdev for dev in busy}
# this process's /dev: a few loop devices, all attached (what a hub container made
# before the kernel added more sees), as a mount namespace of its own
subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/dev"], check=True)
for name, major, minor in [("null", 1, 3), ("zero", 1, 5), ("urandom", 1, 9)]:
    os.mknod(f"/dev/{name}", 0o20666, os.makedev(major, minor))
for dev in busy:
    os.mknod(dev, 0o60660, rdev[dev])
if control:
    os.mknod("/dev/loop-control", 0o20660, os.makedev(10, 237))
p = LoopfileProvisioner(base_dir=base)
out = {}
for user in ("ann", "ben"):
    try:
        asyncio.run(p.provision(user, Quota(disk_limit=40 * 1024**2)))
        out[user] = "provisioned"
    except ProvisionError as e:
        out[user] = str(e)
from jhub_kit.cli.doctor_cmd import loop_problem
out["doctor"] = loop_problem()
print(json.dumps(out))
"""


@pytest.mark.parametrize("control", ["control", "no-control"])
async def test_loop_devices_exhausted(mount_area, tmp_path, control):
    """Every loop device the hub can see is attached (a hub container's /dev copy):
    an existing home is refused as it is, a new one rolled back, both with a message
    that says what to free or mount; once devices are free, both homes work."""
    import sys

    base = mount_area / "homes"
    p = LoopfileProvisioner(base_dir=str(base))
    m = await p.provision("ann", Q)
    write_file(m.source, "notes.txt", b"week 1")
    await p.umount(base / p.state.get("ann")["name"])
    image = p.image_path(p.state.get("ann"))
    before = image.read_bytes()

    busy = []
    try:
        for i in range(2):
            scratch = tmp_path / f"scratch{i}"
            scratch.write_bytes(b"\0" * 1024**2)
            busy.append(run("losetup", "-f", "--show", str(scratch)).stdout.strip())
        unshare = ["unshare", "--mount", "--propagation", "private", "--"]
        r = subprocess.run(
            [*unshare, sys.executable, "-c", EXHAUSTED, str(base), control, *busy],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout.splitlines()[-1])
    finally:
        for dev in busy:
            subprocess.run(["losetup", "-d", dev], check=False)

    for user in ("ann", "ben"):
        assert out[user].startswith(f"cannot mount {base}/.images/{user}.img: no free loop device")
        assert "-v /dev:/dev" in out[user]
    assert out["doctor"] == "no free loop device: 2 of 2 in use, and " + (
        "/dev is tmpfs" if control == "control" else "/dev/loop-control is missing"
    )
    assert loop_problem() is None  # the host's devtmpfs: the kernel adds what is needed
    assert image.read_bytes() == before  # never formatted, never touched
    assert set(p.state.read()) == {"ann"}  # ben's half-made home rolled back
    assert not (base / ".images" / "ben.img").exists()

    m = await p.provision("ann", Q)
    with open(os.path.join(m.source, "notes.txt"), "rb") as f:
        assert f.read() == b"week 1"
    await p.provision("ben", Q)
