"""Servers on bridge networks, as users deploy them: the hub works out how servers
reach it from facts (its own addresses, the network's gateway and containers),
on the real engine, with a real hub and proxy.

Seed 002's layout: servers on a user-defined bridge network with no
hub_connect_ip set, a 500M limit, a volume per user and a custom image."""

from __future__ import annotations

import asyncio
import io
import subprocess

import pytest
from conftest import TEST_PREFIX
from hubutil import (
    container_exec,
    ensure_user,
    failed_spawn,
    form_login,
    kit_config,
    own_network,
    running_hub,
    server_get,
    start_server,
    stop_server,
)

from jhub_kit.network.hub_address import NetworkFacts, hub_url_for_containers

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]  # iptables

NET = f"{TEST_PREFIX}-net"
MB = 1024**2


@pytest.fixture
def bridge_net(docker_client):
    with own_network(docker_client, NET) as net:
        yield net


@pytest.fixture(scope="module")
def custom_image(docker_client, test_image):
    """Seed 002 runs its own image (SageMath); ours adds a marker on the test image."""
    tag = f"{TEST_PREFIX}-custom:latest"
    dockerfile = f"FROM {test_image}\nUSER root\nRUN echo sage > /opt/marker\nUSER 1000\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def env_of(docker_client, name: str) -> dict[str, str]:
    c = docker_client.containers.get(f"{TEST_PREFIX}-{name}")
    return dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])


async def test_seed_002_bridge_network_without_hub_connect_ip(
    docker_client, bridge_net, custom_image, chp, tmp_path, monkeypatch, docker_debug
):
    """Hub on the host, listening on all interfaces; nothing says where it is: the
    kit gives servers the network's gateway (it used to leave the host name, which
    containers cannot resolve, when a /.dockerenv file existed)."""
    monkeypatch.setenv("JUPYTERHUB_TEST_DB_URL", f"sqlite:///{tmp_path}/hub.sqlite")
    gateway = bridge_net.attrs["IPAM"]["Config"][0]["Gateway"]

    def config():
        c = kit_config(
            custom_image,
            network_name=NET,
            mem_limit="500M",
            home_provisioner="docker-volume",
        )
        c.JupyterHub.hub_ip = "0.0.0.0"
        c.HomeProvisioner.base_dir = str(tmp_path / "homes")
        c.DockerVolumeProvisioner.volume_prefix = f"{TEST_PREFIX}-home-"
        return c

    try:
        async with running_hub(config()) as app:
            r, _ = await form_login(app, "sage1", "any")  # a student logs in
            assert r.status_code == 302, r.status_code
            await start_server(app, "sage1")
            r = await server_get(app, "sage1")
            assert r.status_code == 200, r.text
            env = env_of(docker_client, "sage1")
            assert env["JUPYTERHUB_API_URL"].startswith(f"http://{gateway}:"), env
            c = docker_client.containers.get(f"{TEST_PREFIX}-sage1")
            assert c.attrs["HostConfig"]["Memory"] == 500 * MB
            assert NET in c.attrs["NetworkSettings"]["Networks"]
            code, out = await container_exec(
                docker_client, "sage1", ["sh", "-c", "cat /opt/marker; echo kept > ~/work.txt"]
            )
            assert code == 0 and out.strip() == "sage", out
            await stop_server(app, "sage1")
        # the hub restarts (same database): the home and its data are still there
        async with running_hub(config(), restart=True) as app:
            await start_server(app, "sage1")
            code, out = await container_exec(
                docker_client, "sage1", ["cat", "/home/jovyan/work.txt"]
            )
            assert out.strip() == "kept", out
            await stop_server(app, "sage1")
    finally:
        for v in docker_client.volumes.list(filters={"label": "io.jhub-kit.home.user=sage1"}):
            v.remove(force=True)


async def test_default_bridge_network(docker_client, test_image, chp, docker_debug):
    c = kit_config(test_image, network_name="bridge", mem_limit="300M")
    c.JupyterHub.hub_ip = "0.0.0.0"
    # docker0's own address, read with ip(8): Docker 20.10 records no IPAM gateway
    # for docker0 on its very first start, and the kit must find it anyway
    out = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True
    ).stdout
    gateway = out.split(" inet ")[1].split("/")[0]
    async with running_hub(c) as app:
        ensure_user(app, "bridged")
        await start_server(app, "bridged")
        assert (await server_get(app, "bridged")).status_code == 200
        assert env_of(docker_client, "bridged")["JUPYTERHUB_API_URL"].startswith(
            f"http://{gateway}:"
        )
        await stop_server(app, "bridged")


async def test_hub_in_a_container_is_reached_by_name(docker_client, bridge_net, test_image):
    """The decision for a hub that is a container on the servers' network, from the
    engine's real facts, and the URL it gives works from another container there."""
    hub = docker_client.containers.run(
        test_image,
        ["python3", "-m", "http.server", "8081"],
        name=f"{TEST_PREFIX}-fakehub",
        network=NET,
        detach=True,
    )
    hub.reload()
    hub_addr = hub.attrs["NetworkSettings"]["Networks"][NET]["IPAddress"]
    facts = NetworkFacts.from_inspect(docker_client.api.inspect_network(NET))
    url = hub_url_for_containers(
        hub_ip="0.0.0.0",
        hub_port=8081,
        network_name=NET,
        explicit=False,
        local_addresses={"127.0.0.1", hub_addr},  # what the hub sees from inside
        network=facts,
    )
    assert url == f"http://{TEST_PREFIX}-fakehub:8081"
    probe = "import time, urllib.request as u\n"
    probe += "for i in range(50):\n"
    probe += "    try:\n"
    probe += f"        print(u.urlopen('{url}/').status); break\n"
    probe += "    except OSError: time.sleep(0.2)\n"
    out = await asyncio.to_thread(
        docker_client.containers.run,
        test_image,
        ["python3", "-c", probe],
        network=NET,
        remove=True,
    )
    assert out.decode().strip() == "200"


async def test_cannot_tell_fails_the_spawn_with_what_to_set(
    docker_client, test_image, chp, docker_debug
):
    """A network with no gateway and no hub on it: the spawn fails at once with the
    advice, instead of a server that dies on a name it cannot resolve."""
    c = kit_config(test_image, network_name="none", mem_limit="300M")
    c.JupyterHub.hub_ip = "0.0.0.0"
    async with running_hub(c) as app:
        ensure_user(app, "lost")
        failure = await failed_spawn(app, "lost")
        assert failure.message == (
            "The server cannot reach the Hub; an administrator must fix the configuration."
        )
        assert "Cannot tell how servers on Docker network 'none' reach the Hub" in str(failure)
        assert "c.JupyterHub.hub_connect_ip" in str(failure)
        assert not docker_client.containers.list(all=True, filters={"name": f"{TEST_PREFIX}-lost"})
