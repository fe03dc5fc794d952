"""The hub killed with kill -9 while servers start, then started again (a real
`jupyterhub` process, real proxy and engine, loopfile homes): nobody is left pending,
no user has two containers, no home is mounted twice, everyone can start again."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import TEST_PREFIX, remove_test_containers
from hubproc import Hub

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

PREFIX = f"{TEST_PREFIX}-crash"
USERS = [f"c{i}" for i in range(4)]

CONFIG = """\
c.Authenticator.allow_all = True
c.QuotaDockerSpawner.mem_limit = "300M"
c.QuotaDockerSpawner.home_provisioner = "loopfile"
c.QuotaDockerSpawner.disk_limit = "40M"
c.HomeProvisioner.base_dir = "{tmp}/homes"
"""


def home_mounts(homes: Path) -> list[str]:
    return [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(homes) + "/")
    ]


@pytest.mark.parametrize("after", [0.3, 1.5], ids=["homes-being-made", "servers-starting"])
async def test_hub_killed_during_starts(
    docker_client, test_image, chp, mount_area, docker_debug, after
):
    remove_test_containers(docker_client, PREFIX)
    hub = Hub(mount_area, test_image, PREFIX, CONFIG)
    try:
        await asyncio.to_thread(hub.start)
        r = hub.s.post(hub.api + "/users", json={"usernames": USERS}, timeout=30)
        assert r.status_code == 201, r.text
        # every student clicks at once; the requests are not awaited (the hub dies)
        pool = ThreadPoolExecutor(len(USERS))
        for u in USERS:
            pool.submit(hub.s.post, f"{hub.api}/users/{u}/server", timeout=60)
        await asyncio.sleep(after)  # starts in flight: queue, homes, containers, servers
        in_flight = docker_client.containers.list(all=True, filters={"name": PREFIX})
        hub.kill9()
        pool.shutdown(wait=True)
        print(f"killed the hub with {len(in_flight)} of {len(USERS)} containers created")

        await asyncio.to_thread(hub.start)
        deadline = time.monotonic() + 120
        while True:
            users = hub.users()
            pending = [u for u in USERS if users[u]["servers"].get("", {}).get("pending")]
            if not pending:
                break
            assert time.monotonic() < deadline, f"stuck pending after the restart: {pending}"
            await asyncio.sleep(1)
        # everyone can start (again); one container each, each home mounted once
        for u in USERS:
            if not users[u]["servers"].get("", {}).get("ready"):
                r = hub.s.post(f"{hub.api}/users/{u}/server", timeout=120)
                assert r.status_code in (201, 202, 400), r.text
        deadline = time.monotonic() + 180
        while not all(hub.users()[u]["servers"].get("", {}).get("ready") for u in USERS):
            assert time.monotonic() < deadline, hub.users()
            await asyncio.sleep(1)
        names = [c.name for c in docker_client.containers.list(all=True, filters={"name": PREFIX})]
        assert sorted(names) == sorted(f"{PREFIX}-{u}" for u in USERS), names
        mounts = home_mounts(mount_area / "homes")
        assert sorted(mounts) == sorted(str(mount_area / "homes" / u) for u in USERS), mounts
        images = sorted(p.stem for p in (mount_area / "homes" / ".images").glob("*.img"))
        assert images == sorted(USERS), images
        for u in USERS:
            hub.s.delete(f"{hub.api}/users/{u}/server", timeout=60)
    finally:
        hub.stop()
        remove_test_containers(docker_client, PREFIX)
