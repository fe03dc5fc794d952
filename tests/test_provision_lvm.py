"""LVM homes for real, where the kernel has device-mapper (not on these CI machines:
their kernel has none, so this is skipped there with that reason)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from jhub_kit.provision.lvm import LvmProvisioner
from jhub_kit.provision.mounts import mounted_at
from jhub_kit.quota import Quota

pytestmark = pytest.mark.root
M = 1024**2


def _device_mapper() -> str | None:
    """Why LVM cannot run here, or None when it can."""
    try:
        with open("/proc/devices") as f:
            if "device-mapper" not in f.read():
                return "the kernel has no device-mapper (no /proc/devices entry)"
    except OSError as e:
        return f"cannot read /proc/devices: {e}"
    if not shutil.which("lvcreate"):
        return "lvm2 is not installed"
    return None


@pytest.fixture
def volume_group(mount_area):
    reason = _device_mapper()
    if reason:
        pytest.skip(f"LVM needs device-mapper: {reason}")
    image = mount_area / "pv.img"
    with open(image, "wb") as f:
        f.truncate(400 * M)
    loop = subprocess.run(
        ["losetup", "--find", "--show", str(image)], check=True, capture_output=True, text=True
    ).stdout.strip()
    vg = f"jhubkit{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DM_DISABLE_UDEV": "1"}
    subprocess.run(["pvcreate", "-q", loop], check=True, env=env)
    subprocess.run(["vgcreate", "-q", vg, loop], check=True, env=env)
    yield vg
    for line in reversed(open("/proc/self/mountinfo").read().splitlines()):  # noqa: SIM115
        mp = line.split()[4]
        if mp.startswith(str(mount_area)):
            subprocess.run(["umount", "-l", mp], check=False)
    subprocess.run(["vgremove", "-f", vg], check=False, env=env)
    subprocess.run(["pvremove", "-f", loop], check=False, env=env)
    subprocess.run(["losetup", "-d", loop], check=False)


async def test_lvm_home_create_grow_remount(volume_group, mount_area):
    p = LvmProvisioner(
        base_dir=str(mount_area / "homes"), volume_group=volume_group, disable_udev=True
    )
    m = await p.provision("Rai Koug", Quota(disk_limit=64 * M))
    assert mounted_at(m.source).fstype == "ext4"
    st = os.stat(m.source)
    assert (st.st_uid, st.st_gid) == (1000, 100)
    with open(os.path.join(m.source, "keep"), "w") as f:
        f.write("data")
    await p.provision("Rai Koug", Quota(disk_limit=128 * M))
    assert (await p.usage("Rai Koug")).limit > 100 * M
    subprocess.run(["umount", m.source], check=True)
    await p.provision("Rai Koug", Quota(disk_limit=128 * M))
    with open(os.path.join(m.source, "keep")) as f:
        assert f.read() == "data"
