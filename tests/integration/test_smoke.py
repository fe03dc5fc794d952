"""The whole chain: hub -> QuotaDockerSpawner -> container -> ready -> stop -> gone."""

from __future__ import annotations

import pytest
from conftest import TEST_PREFIX
from docker.errors import NotFound
from hubutil import ensure_user, kit_config, running_hub, server_get, start_server, stop_server

pytestmark = [pytest.mark.docker, pytest.mark.hub]


async def test_spawn_ready_stop_gone(docker_client, test_image, chp, docker_debug):
    config = kit_config(test_image, mem_limit="300M")
    async with running_hub(config) as app:
        ensure_user(app, "smoke")
        await start_server(app, "smoke")

        container = docker_client.containers.get(f"{TEST_PREFIX}-smoke")
        hc = container.attrs["HostConfig"]
        assert hc["NetworkMode"] == "host"
        assert hc["Memory"] == 300 * 1024**2
        assert hc["MemorySwap"] == 300 * 1024**2  # no swap by default

        r = await server_get(app, "smoke")
        assert r.status_code == 200, r.text
        assert "started" in r.json()

        await stop_server(app, "smoke")
        with pytest.raises(NotFound):
            docker_client.containers.get(f"{TEST_PREFIX}-smoke")
