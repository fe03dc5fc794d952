"""QuotaSwarmSpawner on a real swarm (tests/swarmrig.py): engines in network
namespaces, the hub and proxy in the root namespace. The quota vocabulary of one
host, applied to the service's task on the node; a task no node can take fails at
once with the scheduler's reason; a server answers through the proxy."""

from __future__ import annotations

import json
import logging
import os
import time

import pytest
from conftest import TEST_PREFIX
from hubutil import ensure_user, running_hub, server_get, spawn_request, start_server, stop_server
from swarmrig import HUB_ADDRESS, Swarm
from traitlets.config import Config

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root, pytest.mark.swarm]

M = 1024**2


@pytest.fixture(scope="module")
def swarm(test_image):
    rig = Swarm(size=int(os.environ.get("JHUB_KIT_SWARM_NODES", "3")), image=test_image)
    try:
        yield rig.start()
    finally:
        for node in rig.nodes:
            services = node.docker("service", "ls", "-q", check=False).stdout.split()
            if services and node is rig.manager:
                node.docker("service", "rm", *services, check=False)
        rig.stop()


def swarm_config(image: str, manager_sock: str) -> Config:
    c = Config()
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.admin_users = {"admin"}
    c.JupyterHub.spawner_class = "quota-swarm"  # the entry point
    c.JupyterHub.hub_ip = HUB_ADDRESS  # where the nodes reach the hub
    s = c.QuotaSwarmSpawner
    s.client_kwargs = {"base_url": manager_sock}
    s.image = image
    s.network_name = "host"
    s.prefix = TEST_PREFIX
    s.start_timeout = 120
    s.http_timeout = 120
    # the vocabulary of one host, unchanged
    s.mem_limit = "300M"
    s.cpu_limit = 0.5
    s.pids_limit = 256
    s.quota_groups = {"class-b": {"mem_limit": "400M", "mem_guarantee": "100M"}}
    s.quota_users = {"greedy": {"mem_limit": "5000G", "mem_guarantee": "4000G"}}
    return c


def task_container(swarm, service: str) -> tuple[dict, str]:
    """``docker inspect`` of the service's container, and the address of the node
    that runs it."""
    for node in swarm.nodes:
        ids = node.docker(
            "ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}"
        ).stdout.split()
        if ids:
            return json.loads(node.docker("inspect", ids[0]).stdout)[0], node.address
    raise AssertionError(f"no container of {service} on any node")


async def test_quota_applied_on_the_node_and_server_answers(swarm, test_image, chp, caplog):
    c = swarm_config(test_image, swarm.manager.sock)
    async with running_hub(c) as app:
        ensure_user(app, "sw1", groups=("class-b",))
        await start_server(app, "sw1")
        try:
            assert (await server_get(app, "sw1")).status_code == 200  # through the proxy
            container, node_address = task_container(swarm, f"{TEST_PREFIX}-sw1")
            hc = container["HostConfig"]
            assert hc["Memory"] == 400 * M  # the group's
            assert hc["NanoCpus"] == 500_000_000
            assert hc["PidsLimit"] == 256
            assert app.users["sw1"].spawner.server.ip == node_address  # where it was placed
            [spec] = json.loads(
                swarm.manager.docker("service", "inspect", f"{TEST_PREFIX}-sw1").stdout
            )
            # a server that exits is reported stopped, not restarted behind the hub's back
            assert spec["Spec"]["TaskTemplate"]["RestartPolicy"]["Condition"] == "none"
            # the guarantee is a reservation the scheduler keeps (not a container setting)
            resources = spec["Spec"]["TaskTemplate"]["Resources"]
            assert resources["Reservations"] == {"MemoryBytes": 100 * M}
        finally:
            await stop_server(app, "sw1")
        services = swarm.manager.docker("service", "ls", "-q").stdout.split()
        assert services == []  # stop removes the service

        # a task no node can take: refused at once, in words, the reason in the log
        ensure_user(app, "greedy")
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING):
            r = await spawn_request(app, "greedy")
        assert r.status_code == 503, r.text
        assert "No machine in the cluster can take your server" in r.json()["message"]
        assert time.monotonic() - t0 < 30  # at once, not after start_timeout (120 s)
        assert "insufficient resources" in caplog.text, caplog.text[-2000:]
        assert not app.users["greedy"].running
