"""Home provisioners on real loop devices, ext4, XFS and btrfs (needs root)."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess

import pytest

from jhub_kit.provision import ProvisionError, provisioner_class
from jhub_kit.provision.mounts import mounted_at
from jhub_kit.quota.policy import Quota

pytestmark = pytest.mark.root
M = 1024**2


@pytest.fixture
def base(mount_area):
    return mount_area / "homes"


def make(kind, base, **traits):
    cls = provisioner_class(kind)
    return cls(base_dir=str(base), **traits)


def read(path):
    with open(path) as f:
        return f.read()


def write_as_user(path, megabytes, uid=1000, gid=100):
    """dd as uid 1000; returns (returncode, stderr)."""
    r = subprocess.run(
        [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={gid}",
            "--clear-groups",
            "dd",
            "if=/dev/zero",
            f"of={path}",
            "bs=1M",
            f"count={megabytes}",
            "conv=fsync",
        ],
        capture_output=True,
        text=True,
    )
    return r.returncode, r.stderr


async def test_directory_owner_mode_and_idempotent(base):
    p = make("directory", base)
    m1 = await p.provision("Alice", Quota())
    m2 = await p.provision("Alice", Quota())
    assert m1 == m2 and m1.type == "bind"
    st = os.stat(m1.source)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (1000, 100, 0o750)
    assert os.path.dirname(m1.source) == str(base)
    assert write_as_user(os.path.join(m1.source, "f"), 1)[0] == 0


async def test_directory_fixes_root_owned_home_and_refuses_symlink_and_foreign(base, tmp_path):
    p = make("directory", base)
    base.mkdir()
    (base / "rootowned").mkdir()  # what Docker's legacy binds auto-create
    m = await p.provision("rootowned", Quota())
    assert os.stat(m.source).st_uid == 1000
    (base / "evil").symlink_to(tmp_path)
    with pytest.raises(ProvisionError, match="it is a symlink"):
        await p.provision("evil", Quota())
    (base / "foreign").mkdir()
    os.chown(base / "foreign", 4242, 4242)
    with pytest.raises(ProvisionError, match="owned by uid 4242, expected 0 or 1000"):
        await p.provision("foreign", Quota())


async def test_hostile_names_stay_under_base(base):
    p = make("directory", base)
    for name in ["..", "../../etc", "/etc/passwd", "$(rm -rf /)", "a\nb", "-rf", "."]:
        m = await p.provision(name, Quota())
        assert os.path.dirname(m.source) == str(base), name
    assert sorted(os.listdir(base))[0] == ".jhub-kit-state.json"


@pytest.mark.parametrize("fs, size", [("ext4", 40 * M), ("xfs", 320 * M)])
async def test_loopfile_limit_grow_persist(base, fs, size):
    p = make("loopfile", base, filesystem=fs)
    m = await p.provision("bob", Quota(disk_limit=size))
    entry = mounted_at(m.source)
    assert entry is not None and entry.fstype == fs and entry.source.startswith("/dev/loop")
    st = os.stat(m.source)
    assert (st.st_uid, st.st_gid) == (1000, 100)
    # writing past the limit fails, as the user
    code, err = write_as_user(os.path.join(m.source, "big"), size // M + 20)
    assert code != 0 and "No space left on device" in err
    os.remove(os.path.join(m.source, "big"))
    with open(os.path.join(m.source, "keep"), "w") as f:
        f.write("data")
    usage = await p.usage("bob")
    # (XFS keeps a larger share of a small filesystem for its log)
    assert usage.limit is not None and 0.7 * size < usage.limit <= size
    # raising the quota grows the filesystem online and keeps the data
    await p.provision("bob", Quota(disk_limit=size + 64 * M))
    bigger = await p.usage("bob")
    assert bigger.limit > usage.limit + 50 * M
    assert read(os.path.join(m.source, "keep")) == "data"
    # reboot: everything unmounted; the next provision mounts the same data again
    subprocess.run(["umount", m.source], check=True)
    assert mounted_at(m.source) is None
    await p.provision("bob", Quota(disk_limit=size + 64 * M))
    assert read(os.path.join(m.source, "keep")) == "data"


async def test_loopfile_never_shrinks(base, caplog):
    p = make("loopfile", base)
    await p.provision("carol", Quota(disk_limit=60 * M))
    with caplog.at_level(logging.WARNING):
        await p.provision("carol", Quota(disk_limit=30 * M))
    assert "homes never shrink" in caplog.text
    assert (await p.usage("carol")).limit > 50 * M


async def test_loopfile_failed_mkfs_rolls_back(base):
    p = make("loopfile", base, filesystem="xfs")
    with pytest.raises(ProvisionError, match=r"mkfs\.xfs"):
        await p.provision("dave", Quota(disk_limit=20 * M))  # below XFS's minimum size
    assert not (base / ".images" / "dave.img").exists()
    assert not (base / "dave").exists()
    assert p.state.get("dave") is None


async def test_loopfile_refuses_to_format_an_existing_file(base):
    p = make("loopfile", base)
    (base / ".images").mkdir(parents=True)
    junk = base / ".images" / "erin.img"
    junk.write_bytes(b"precious" * 1000)
    with pytest.raises(ProvisionError, match="holds no filesystem; refusing to format it"):
        await p.provision("erin", Quota(disk_limit=20 * M))
    assert junk.read_bytes() == b"precious" * 1000


async def test_concurrent_provisions_of_one_user_make_one_home(base):
    p = make("loopfile", base)
    mounts = await asyncio.gather(
        *(p.provision("frank", Quota(disk_limit=30 * M)) for _ in range(5))
    )
    assert len(set(mounts)) == 1
    table = read("/proc/self/mountinfo")
    assert table.count(f" {mounts[0].source} ") == 1


async def test_btrfs_qgroup_limit_and_grow(base):
    p = make("btrfs", base, pool_image_size="2G")
    m = await p.provision("gina", Quota(disk_limit=50 * M))
    assert mounted_at(base / ".pool").fstype == "btrfs"
    st = os.stat(m.source)
    assert (st.st_uid, st.st_gid) == (1000, 100)
    code, err = write_as_user(os.path.join(m.source, "big"), 80)
    assert code != 0 and "Disk quota exceeded" in err
    os.remove(os.path.join(m.source, "big"))
    subprocess.run(["sync"], check=True)
    usage = await p.usage("gina")
    assert usage.limit == 50 * M
    await p.provision("gina", Quota(disk_limit=120 * M))
    assert (await p.usage("gina")).limit == 120 * M
    code, _ = write_as_user(os.path.join(m.source, "fits"), 80)
    assert code == 0
    # a second user shares the pool, not the quota
    m2 = await p.provision("hank", Quota(disk_limit=10 * M))
    assert write_as_user(os.path.join(m2.source, "small"), 5)[0] == 0


async def test_deprovision_archives_then_removes(base, tmp_path):
    p = make("loopfile", base)
    m = await p.provision("ivy", Quota(disk_limit=30 * M))
    with open(os.path.join(m.source, "notebook.ipynb"), "w") as f:
        f.write("{}")
    archive = await p.deprovision("ivy", tmp_path / "archives")
    import tarfile

    with tarfile.open(archive) as t:
        assert "./notebook.ipynb" in t.getnames()
    assert oct(os.stat(archive).st_mode & 0o777) == "0o600"
    assert not (base / "ivy").exists() and not (base / ".images" / "ivy.img").exists()
    assert p.state.get("ivy") is None


async def test_named_servers_homes_are_the_users_and_no_one_elses(base, tmp_path):
    """home_per_server keeps a named server's home as USER/SERVER: its own safe name
    and record, listed among the user's homes (what `users remove --forever`
    archives and removes), never among another user's whose name starts alike."""
    p = make("directory", base)
    for key in ("ivy", "ivy/lab2", "ivy2", "ivy-lab2"):
        await p.provision(key, Quota())
    assert await p.homes_of("ivy") == ["ivy", "ivy/lab2"]
    assert await p.homes_of("ivy2") == ["ivy2"] and await p.homes_of("nobody") == ["nobody"]
    record = p.state.get("ivy/lab2")
    assert record["name"].startswith("ivy-lab2--") and (base / record["name"]).is_dir()
    assert p.state.get("ivy-lab2")["name"] == "ivy-lab2"  # a user of that name: apart
    for key in await p.homes_of("ivy"):
        assert await p.deprovision(key, tmp_path / "archives") is not None
    assert await p.users() == ["ivy-lab2", "ivy2"]


async def test_first_provisions_of_many_users_at_once(base):
    """A class's first login on a fresh install: base_dir and state made concurrently."""
    p = make("directory", base)
    names = [f"student{i}" for i in range(30)]
    await asyncio.gather(*(p.provision(n, Quota()) for n in names))
    assert sorted(p.state.read()) == sorted(names)  # no record lost


async def test_pre_spawn_hook_for_other_spawners(base):
    """Any spawner with ``volumes`` (e.g. stock DockerSpawner) gets the home mounted."""
    from types import SimpleNamespace

    p = make("directory", base)
    spawner = SimpleNamespace(
        user=SimpleNamespace(name="Zoe"),
        volumes={"shared": "/srv/shared"},
        notebook_dir="/home/jovyan/work",
        disk_limit=None,
    )
    await p.pre_spawn_hook(spawner)
    home = str(p.under(p.state.get("Zoe")["name"]))
    assert spawner.volumes == {"shared": "/srv/shared", home: "/home/jovyan/work"}
    assert os.stat(home).st_uid == 1000


async def test_pre_spawn_hook_reads_the_hubs_config_at_spawn(base):
    """``pre_spawn_hook("directory")`` in a config file: lines after it still apply."""
    from types import SimpleNamespace

    from traitlets.config import Config

    from jhub_kit.provision import DirectoryProvisioner, HomeProvisioner, pre_spawn_hook

    c = Config()
    c.Spawner.pre_spawn_hook = pre_spawn_hook("directory")
    c.DirectoryProvisioner.base_dir = str(base)  # set after the hook was made
    spawner = SimpleNamespace(
        config=c, log=logging.getLogger("test"), user=SimpleNamespace(name="Ann"), volumes={}
    )
    await c.Spawner.pre_spawn_hook(spawner)
    [(home, target)] = spawner.volumes.items()
    assert home.startswith(str(base) + "/") and target == "/home/jovyan"
    assert os.stat(home).st_uid == 1000
    assert issubclass(DirectoryProvisioner, HomeProvisioner)  # the backends, exported lazily


async def test_system_user_account_and_home(base):
    import pwd
    import uuid

    name = f"jk{uuid.uuid4().hex[:8]}"
    p = make("system-user", base)
    try:
        m = await p.provision(name, Quota())
        entry = pwd.getpwnam(name)
        assert m.source == entry.pw_dir and os.path.isdir(entry.pw_dir)
        assert os.stat(entry.pw_dir).st_uid == entry.pw_uid
        assert (await p.provision(name, Quota())) == m  # idempotent
        with pytest.raises(ProvisionError, match="cannot be a Unix account name"):
            await p.provision("-rf", Quota())
    finally:
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)
