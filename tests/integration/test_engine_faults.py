"""The Docker engine restarts while servers run (real dockerd, real hub, loopfile homes).

Servers are reported stopped, homes stay intact and are mounted again by the next
start (one loop device each, never a second), nothing of the old containers is left."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest
from conftest import TEST_PREFIX, remove_test_containers
from hubutil import container_exec, ensure_user, kit_config, running_hub, start_server, stop_server
from kit_testing import restart_dockerd

from jhub_kit.provision.mounts import mounted_at

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]


def loop_devices_of(image: Path) -> list[str]:
    out = subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout
    return [line.split(":")[0] for line in out.splitlines() if line.strip()]


async def test_engine_restart_loses_nothing(
    docker_client, test_image, chp, mount_area, docker_debug
):
    from jhub_kit import registry

    registry.forget("provisioner")
    remove_test_containers(docker_client)
    homes = mount_area / "homes"
    c = kit_config(test_image, home_provisioner="loopfile", disk_limit="40M", mem_limit="300M")
    c.HomeProvisioner.base_dir = str(homes)
    c.QuotaDockerSpawner.poll_interval = 1
    async with running_hub(c) as app:
        for n in ("ana", "ben"):
            ensure_user(app, n)
            await start_server(app, n)
            code, out = await container_exec(
                docker_client, n, ["sh", "-c", f"echo {n}-data > /home/jovyan/f.txt"]
            )
            assert code == 0, out
        image = homes / ".images" / "ana.img"
        assert len(loop_devices_of(image)) == 1

        await asyncio.to_thread(restart_dockerd, docker_client)

        # both servers are reported stopped (the hub's poll notices within its interval)
        for n in ("ana", "ben"):
            status = await app.users[n].spawner.poll()
            assert status is not None and "ExitCode=" in status, status
        deadline = time.monotonic() + 60
        while any(app.users[n].running for n in ("ana", "ben")):
            assert time.monotonic() < deadline, "the hub still thinks servers run"
            await asyncio.sleep(0.5)

        # the homes are intact; the next start mounts nothing twice
        assert mounted_at(homes / "ana") is not None
        for n in ("ana", "ben"):
            await start_server(app, n)
            code, out = await container_exec(docker_client, n, ["cat", "/home/jovyan/f.txt"])
            assert out.strip() == f"{n}-data", out
        assert len(loop_devices_of(image)) == 1, "a second loop device for one home"
        names = [
            x.name for x in docker_client.containers.list(all=True, filters={"name": TEST_PREFIX})
        ]
        assert sorted(names) == [f"{TEST_PREFIX}-ana", f"{TEST_PREFIX}-ben"], names
        for n in ("ana", "ben"):
            await stop_server(app, n)
