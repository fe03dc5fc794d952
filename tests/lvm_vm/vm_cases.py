"""LVM homes for real: these cases run INSIDE the test VM (a Debian guest with its own
kernel, device-mapper and lvm2, booted under qemu by tests/system/test_lvm_vm.py), as root,
through the kit's LvmProvisioner, never a shell re-implementation.

Disks: /dev/vdc is the volume group's physical volume, /dev/vdd holds base_dir (the
homes' mount points and the kit's state). Both survive between the two boots; the
phase (JHK_PHASE) says which boot this is: "first", or "reboot" (after a power-off,
nothing mounted or active). Each case records what it measured as JUnit properties.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jhub_kit.provision import ProvisionError
from jhub_kit.provision.lvm import LvmProvisioner
from jhub_kit.provision.mounts import mounted_at
from jhub_kit.quota import Quota

PHASE = os.environ.get("JHK_PHASE", "first")
PV = os.environ.get("JHK_DISK", "/dev/vdc")
STATE_DISK = "/dev/vdd"
BASE = Path("/srv/jupyterhub")
VG = "jhkvg"
M = 1024**2
ENV = {**os.environ, "DM_DISABLE_UDEV": "1"}

first = pytest.mark.skipif(PHASE != "first", reason="runs on the first boot")
after_reboot = pytest.mark.skipif(PHASE != "reboot", reason="runs after the reboot")

CLASS = [f"student{i:03d}" for i in range(100)]  # seed 003: 100 MB each
HOSTILE = ["-rf", "--help", "snapshot", "pvmove", "_mlog", "a b", "x/../../y", "Ünïcødé", "."]


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True, env=ENV).stdout


def loopback_up() -> None:
    """The guest has no network tools; bring ``lo`` up with two ioctls (the quota
    report talks to a stand-in hub API on 127.0.0.1)."""
    import fcntl
    import socket
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))  # IFF_UP


@pytest.fixture(scope="session", autouse=True)
def disks():
    loopback_up()
    BASE.mkdir(parents=True, exist_ok=True)
    if PHASE == "first":
        sh("mkfs.ext4", "-q", "-F", STATE_DISK)
        sh("pvcreate", "-q", PV)
        sh("vgcreate", "-q", VG, PV)
    else:
        sh("vgscan", "--mknodes")
    if mounted_at(BASE) is None:
        sh("mount", STATE_DISK, str(BASE))
    yield


def prov() -> LvmProvisioner:
    return LvmProvisioner(base_dir=str(BASE / "homes"), volume_group=VG, disable_udev=True)


def lv_size(name: str) -> int:
    out = sh("lvs", "--noheadings", "--nosuffix", "--units", "b", "-o", "lv_size", f"{VG}/{name}")
    return int(out.strip())


def lv_names() -> set[str]:
    return {x.strip() for x in sh("lvs", "--noheadings", "-o", "lv_name", VG).split()}


@first
async def test_first_home_created_formatted_owned_mounted(record_property):
    p = prov()
    t0 = time.perf_counter()
    m = await p.provision("alice", Quota(disk_limit=100 * M))
    record_property("first_home_s", round(time.perf_counter() - t0, 3))
    rec = p.state.get("alice")
    assert lv_size(rec["lv"]) == 100 * M
    assert mounted_at(m.source).fstype == "ext4"
    st = os.stat(m.source)
    assert (st.st_uid, st.st_gid) == (1000, 100)
    Path(m.source, "thesis.txt").write_text("alice's work")
    # the limit holds: writing past 100M fails with ENOSPC
    r = subprocess.run(
        ["dd", "if=/dev/zero", f"of={m.source}/big", "bs=1M", "count=200"],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "No space left on device" in r.stderr
    os.unlink(f"{m.source}/big")


@first
async def test_existing_home_is_activated_and_mounted_never_formatted():
    p = prov()
    rec = p.state.get("alice")
    sh("umount", str(BASE / "homes" / rec["name"]))
    sh("lvchange", "--activate", "n", f"{VG}/{rec['lv']}")
    m = await p.provision("alice", Quota(disk_limit=100 * M))
    assert Path(m.source, "thesis.txt").read_text() == "alice's work"


@first
async def test_raised_quota_grows_online_lowered_is_refused(caplog):
    p = prov()
    m = await p.provision("alice", Quota(disk_limit=200 * M))
    rec = p.state.get("alice")
    assert lv_size(rec["lv"]) == 200 * M
    assert (await p.usage("alice")).limit > 150 * M  # the filesystem grew with it, mounted
    assert Path(m.source, "thesis.txt").read_text() == "alice's work"
    caplog.clear()
    await p.provision("alice", Quota(disk_limit=50 * M))
    assert lv_size(rec["lv"]) == 200 * M  # never shrunk
    assert any("homes never shrink" in r.getMessage() for r in caplog.records)


@first
async def test_hostile_usernames_become_valid_lv_names_never_options():
    p = prov()
    for name in HOSTILE:
        m = await p.provision(name, Quota(disk_limit=8 * M))
        assert mounted_at(m.source) is not None, name
        assert Path(m.source).parent == BASE / "homes", name
    lvs = lv_names()
    for name in HOSTILE:
        lv = p.state.get(name)["lv"]
        assert lv in lvs and lv.startswith("jhub-") and not lv.startswith("-"), (name, lv)


@first
async def test_full_volume_group_names_the_group_and_free_space():
    p = prov()
    with pytest.raises(ProvisionError, match=rf"volume group {VG} is full: 50G asked for .* free"):
        await p.provision("greedy", Quota(disk_limit=50 * 1024 * M))
    assert p.state.get("greedy") is None
    assert not any(lv.endswith("greedy") for lv in lv_names())


@first
async def test_deprovision_archives_then_removes(tmp_path):
    p = prov()
    m = await p.provision("bob", Quota(disk_limit=16 * M))
    Path(m.source, "notes.txt").write_text("bob's notes")
    lv = p.state.get("bob")["lv"]
    archive = await p.deprovision("bob", tmp_path)
    out = subprocess.run(["tar", "-tzf", str(archive)], capture_output=True, text=True).stdout
    assert "./notes.txt" in out.split()
    assert lv not in lv_names() and p.state.get("bob") is None


@first
async def test_a_class_of_100_homes_of_100mb(record_property):
    """Seed 003's class: 100 homes of 100 MB, then the kit's quota report lists them."""
    p = prov()
    times = []
    for name in CLASS:
        t0 = time.perf_counter()
        await p.provision(name, Quota(disk_limit=100 * M))
        times.append(time.perf_counter() - t0)
    times.sort()
    record_property("kit_home_median_s", round(times[len(times) // 2], 3))
    # the same commands run bare, for 10 homes, in the same VM
    bare = []
    for i in range(10):
        dev, mnt = f"/dev/{VG}/bare{i}", BASE / f"bare{i}"
        t0 = time.perf_counter()
        sh("lvcreate", "--yes", "-q", "-L", "100m", "-n", f"bare{i}", VG)
        sh("mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=1000:100", dev)
        mnt.mkdir()
        sh("mount", "-o", "nosuid,nodev", dev, str(mnt))
        bare.append(time.perf_counter() - t0)
    bare.sort()
    record_property("bare_home_median_s", round(bare[len(bare) // 2], 3))
    for i in range(10):
        sh("umount", str(BASE / f"bare{i}"))
        sh("lvremove", "--yes", "-q", f"{VG}/bare{i}")
    assert all(mounted_at(BASE / "homes" / n) for n in CLASS)
    report = quota_report([*CLASS, "alice"])
    rows = {r["user"]: r for r in report}
    assert len([u for u in rows if u.startswith("student")]) == 100
    # used and limit come from each mounted filesystem (ext4 keeps a few MB for itself)
    for u in ("student042", "alice"):
        assert rows[u]["disk_used"] != "-" and rows[u]["disk_limit"] != "-", rows[u]
    record_property("report_rows", len(report))
    record_property("report_student042", json.dumps(rows["student042"]))


def quota_report(users: list[str]) -> list[dict]:
    """``jhub-kit quota report --format json`` against a stand-in for the hub's user list."""
    body = json.dumps([{"name": u, "groups": [], "servers": {}} for u in users]).encode()

    class Hub(BaseHTTPRequestHandler):
        def do_GET(self):
            scopes = ["list:users", "read:users", "read:servers"]
            me = json.dumps({"name": "admin", "scopes": scopes}).encode()
            data = me if self.path.split("?")[0] == "/hub/api/user" else body
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = Path("/tmp/jupyterhub_config.py")
    cfg.write_text(
        "c = get_config()\n"
        "c.QuotaDockerSpawner.home_provisioner = 'lvm'\n"
        f"c.HomeProvisioner.base_dir = {str(BASE / 'homes')!r}\n"
        f"c.LvmProvisioner.volume_group = {VG!r}\n"
        "c.LvmProvisioner.disable_udev = True\n"
        "c.QuotaDockerSpawner.disk_limit = '100M'\n"
    )
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "from jhub_kit.cli import main; main()",
            "quota",
            "report",
            "-f",
            str(cfg),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        env={
            **ENV,
            "JUPYTERHUB_API_TOKEN": "t",
            "JUPYTERHUB_URL": f"http://127.0.0.1:{server.server_address[1]}",
        },
    )
    server.shutdown()
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


@after_reboot
async def test_after_a_reboot_every_home_comes_back_with_its_data():
    """The VM was powered off: nothing is mounted, no LV is active. The next provision
    of each user activates and mounts their home, data intact, never formatted."""
    p = prov()
    assert mounted_at(BASE / "homes" / "alice") is None
    m = await p.provision("alice", Quota(disk_limit=200 * M))
    assert Path(m.source, "thesis.txt").read_text() == "alice's work"
    for name in CLASS[:10] + HOSTILE:
        m = await p.provision(name, Quota(disk_limit=100 * M if name in CLASS else 8 * M))
        assert mounted_at(m.source) is not None, name


@after_reboot
async def test_a_missing_volume_is_refused_not_recreated():
    p = prov()
    rec = p.state.get("student099")
    sh("lvremove", "--yes", "-q", f"{VG}/{rec['lv']}")
    from jhub_kit.provision import HomeUnavailable

    with pytest.raises(HomeUnavailable, match=f"its logical volume {VG}/{rec['lv']} is missing"):
        await p.provision("student099", Quota(disk_limit=100 * M))
    assert rec["lv"] not in lv_names()


def test_phase_is_known():
    assert PHASE in ("first", "reboot")
    assert asyncio.iscoroutinefunction(test_after_a_reboot_every_home_comes_back_with_its_data)
