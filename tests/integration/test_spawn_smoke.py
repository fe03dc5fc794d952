"""One real spawn, cold and from the warm pool, with a kit home: what the version
matrix (noxfile.py, ``spawn`` session) runs on the oldest and the newest Python
the kit supports, and on each JupyterHub major version it claims."""

from __future__ import annotations

import asyncio
import time

import pytest
from hubutil import ensure_user, kit_config, running_hub, server_get, start_server, stop_server

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]


async def test_a_cold_and_a_pooled_spawn(docker_client, test_image, chp, mount_area, docker_debug):
    c = kit_config(
        test_image, pool_size=1, mem_limit="300M", home_provisioner="directory", pids_limit=300
    )
    c.QuotaDockerSpawner.pool_dir = str(mount_area / "pool")
    c.HomeProvisioner.base_dir = str(mount_area / "homes")
    async with running_hub(c) as app:
        ensure_user(app, "cold")
        ensure_user(app, "warm")
        pool = app.users["cold"].spawner.warm_pool()
        deadline = time.monotonic() + 180
        while len(pool.ready) < 1:
            assert time.monotonic() < deadline, "no member became ready"
            await asyncio.sleep(0.2)

        async def no_member(key):
            return None

        pool.take = no_member  # the pool keeps its member: a cold start
        await start_server(app, "cold")
        assert app.users["cold"].spawner.pool_member == ""
        assert (await server_get(app, "cold")).status_code == 200
        del pool.take
        await start_server(app, "warm")
        sp = app.users["warm"].spawner
        assert sp.pool_member, "the second start should come from the pool"
        assert (await server_get(app, "warm")).status_code == 200
        hc = docker_client.api.inspect_container(sp.object_id)["HostConfig"]
        assert (hc["Memory"], hc["PidsLimit"]) == (300 * 1024**2, 300)
        for name in ("cold", "warm"):
            await stop_server(app, name)
