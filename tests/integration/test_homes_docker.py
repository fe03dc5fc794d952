"""Quota'd homes through the real hub and engine (needs root for loop mounts)."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import TEST_PREFIX
from hubutil import container_exec, ensure_user, kit_config, running_hub, start_server, stop_server

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

M = 1024**2


@pytest.fixture
def homes(mount_area):
    return mount_area / "homes"


def config(image, homes, backend="loopfile", policy=None, **extra):
    c = kit_config(image, home_provisioner=backend, disk_limit="40M", **extra)
    c.HomeProvisioner.base_dir = str(homes)  # applies to every backend
    if backend == "btrfs":
        c.BtrfsProvisioner.pool_image_size = "2G"
    if policy:
        c.QuotaDockerSpawner.quota_policy_file = str(policy)
    return c


def fresh_provisioners():
    # provisioners are shared per class within a hub process; tests use new base dirs
    from jhub_kit import registry

    registry.forget("provisioner")


async def sh(docker_client, user, script):
    return await container_exec(docker_client, user, ["sh", "-c", script])


async def test_loopfile_home_owner_limit_persistence(
    docker_client, test_image, chp, homes, tmp_path, docker_debug
):
    fresh_provisioners()
    policy = tmp_path / "q.toml"
    policy.write_text('[defaults]\ndisk_limit = "40M"\n')
    async with running_hub(config(test_image, homes, policy=policy)) as app:
        ensure_user(app, "alice")
        ensure_user(app, "bob")
        await start_server(app, "alice")
        await start_server(app, "bob")
        c = docker_client.containers.get(f"{TEST_PREFIX}-alice")
        mounts = {m["Destination"]: m for m in c.attrs["Mounts"]}
        assert mounts["/home/jovyan"]["Type"] == "bind"
        assert mounts["/home/jovyan"]["Source"] == str(homes / "alice")
        code, out = await sh(docker_client, "alice", "id -u; stat -c %u:%g /home/jovyan")
        assert out.split() == ["1000", "1000:100"], out
        code, out = await sh(docker_client, "alice", "echo precious > /home/jovyan/notes.txt")
        assert code == 0, out
        # past the quota: ENOSPC inside this container only
        code, out = await sh(
            docker_client, "alice", "dd if=/dev/zero of=/home/jovyan/big bs=1M count=60"
        )
        assert code != 0 and "No space left on device" in out, out
        code, out = await sh(
            docker_client, "bob", "dd if=/dev/zero of=/home/jovyan/ok bs=1M count=20 && echo fine"
        )
        assert code == 0 and "fine" in out, out
        await sh(docker_client, "alice", "rm /home/jovyan/big")
        events = app.users["alice"].spawner._progress_events
        assert any(e["message"].startswith("Home ready (") for e in events)
        # the container goes, the home stays
        await stop_server(app, "alice")
        await start_server(app, "alice")
        code, out = await sh(docker_client, "alice", "cat /home/jovyan/notes.txt")
        assert out.strip() == "precious"
        await stop_server(app, "alice")
        await stop_server(app, "bob")

    # the hub restarts after a reboot: nothing in memory, every home unmounted
    fresh_provisioners()
    with open("/proc/self/mountinfo") as f:
        table = f.read().splitlines()
    for line in reversed(table):
        mp = line.split()[4]
        if mp.startswith(str(homes)):
            subprocess.run(["umount", mp], check=True)
    assert not os.path.ismount(homes / "alice")
    policy.write_text('[defaults]\ndisk_limit = "100M"\n')  # and a bigger quota
    st = os.stat(policy)
    os.utime(policy, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    async with running_hub(config(test_image, homes, policy=policy)) as app:
        ensure_user(app, "alice")
        await start_server(app, "alice")
        code, out = await sh(
            docker_client, "alice", "cat /home/jovyan/notes.txt; df -k /home/jovyan | tail -1"
        )
        lines = out.splitlines()
        assert lines[0] == "precious"
        size_kb = int(lines[1].split()[1])
        assert size_kb > 80 * 1024, out  # grown from 40M to 100M
        code, out = await sh(
            docker_client,
            "alice",
            "dd if=/dev/zero of=/home/jovyan/big bs=1M count=60 && echo fits",
        )
        assert "fits" in out, out
        await stop_server(app, "alice")


async def test_btrfs_home_quota_in_container(docker_client, test_image, chp, homes, docker_debug):
    fresh_provisioners()
    async with running_hub(config(test_image, homes, backend="btrfs")) as app:
        ensure_user(app, "carol")
        await start_server(app, "carol")
        code, out = await sh(
            docker_client,
            "carol",
            "stat -c %u:%g /home/jovyan; dd if=/dev/zero of=/home/jovyan/big bs=1M count=80",
        )
        assert out.splitlines()[0] == "1000:100"
        assert code != 0 and "Disk quota exceeded" in out, out
        await stop_server(app, "carol")


async def test_provisioning_failure_is_a_clear_spawn_error(
    docker_client, test_image, chp, homes, caplog
):
    fresh_provisioners()
    homes.mkdir(parents=True)
    (homes / "mallory").symlink_to("/etc")
    async with running_hub(config(test_image, homes, backend="loopfile")) as app:
        ensure_user(app, "mallory")
        from jupyterhub.tests.utils import api_request

        r = await api_request(app, "users", "mallory", "server", method="post")
        user = app.users["mallory"]
        while user.spawner.pending:
            import asyncio

            await asyncio.sleep(0.1)
        assert not user.running
        # the user gets the kit's message (not a crash), the admin the reason
        assert r.status_code == 500, r.text
        assert r.json()["message"] == (
            "Your home directory could not be prepared; an administrator has been told why."
        )
        assert "Home of mallory not provisioned: refusing" in caplog.text
        assert "it is a symlink" in caplog.text


async def test_each_named_server_its_own_home(docker_client, test_image, chp, homes, docker_debug):
    """home_per_server: a named server gets a home of its own (its own size limit),
    kept as USER/SERVER; the default server keeps the user's home; each survives
    its server's stop and start."""
    from test_budget_hub import post_server, ready, stop

    fresh_provisioners()
    c = config(test_image, homes, home_per_server=True)
    c.JupyterHub.allow_named_servers = True
    async with running_hub(c) as app:
        ensure_user(app, "alice")
        await start_server(app, "alice")
        r = await post_server(app, "alice", "lab2")
        assert r.status_code in (201, 202), r.text
        await ready(app, "alice", "lab2")
        prov = app.users["alice"].spawner.provisioner()
        assert await prov.users() == ["alice", "alice/lab2"]
        code, out = await sh(docker_client, "alice", "echo default > /home/jovyan/which")
        assert code == 0, out
        script = "cat /home/jovyan/which 2>&1; echo lab2 > /home/jovyan/which; df -k /home/jovyan"
        code, out = await container_exec(docker_client, "alice--lab2", ["sh", "-c", script])
        assert "No such file" in out.splitlines()[0], out  # not the default server's home
        size_kb = int(out.splitlines()[-1].split()[1])
        assert 30 * 1024 < size_kb < 45 * 1024, out  # disk_limit 40M of its own
        homes_of = {}
        for name in ("alice", "alice--lab2"):
            info = docker_client.api.inspect_container(f"{TEST_PREFIX}-{name}")
            homes_of[name] = {m["Destination"]: m["Source"] for m in info["Mounts"]}["/home/jovyan"]
        assert homes_of["alice"] == str(homes / "alice")
        assert homes_of["alice--lab2"] != homes_of["alice"]
        assert homes_of["alice--lab2"].startswith(str(homes) + "/alice-lab2--")
        await stop(app, "alice", "lab2")
        r = await post_server(app, "alice", "lab2")
        assert r.status_code in (201, 202), r.text
        await ready(app, "alice", "lab2")
        code, out = await container_exec(
            docker_client, "alice--lab2", ["cat", "/home/jovyan/which"]
        )
        assert out.strip() == "lab2"
        code, out = await sh(docker_client, "alice", "cat /home/jovyan/which")
        assert out.strip() == "default"
        await stop(app, "alice", "lab2")
        await stop_server(app, "alice")
