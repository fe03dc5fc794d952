"""Secure container defaults: pure decisions, then the real engine (a setuid binary
planted in the image, an image that starts as root), the kit against stock DockerSpawner."""

from __future__ import annotations

import asyncio
import io

import pytest
from conftest import TEST_PREFIX
from hubutil import (
    container_exec,
    ensure_user,
    failed_spawn,
    kit_config,
    running_hub,
    start_server,
    stop_server,
)

from jhub_kit.network.hardening import ROOT_START_CAPS, host_config_security, starts_as_root


@pytest.mark.parametrize(
    ("user", "root"),
    [
        ("", True),
        ("root", True),
        ("0", True),
        ("0:0", True),
        ("root:users", True),
        ("1000", False),
        ("jovyan", False),
        ("1000:100", False),
    ],
)
def test_starts_as_root(user, root):
    assert starts_as_root(user) is root


def test_security_host_config():
    user_image = host_config_security(
        no_new_privileges=True, cap_drop=["ALL"], cap_add=None, root_start=False
    )
    assert user_image == {"security_opt": ["no-new-privileges:true"], "cap_drop": ["ALL"]}
    root_image = host_config_security(
        no_new_privileges=True, cap_drop=["all"], cap_add=None, root_start=True
    )
    assert root_image["cap_add"] == list(ROOT_START_CAPS) and root_image["cap_drop"] == ["ALL"]
    explicit = host_config_security(
        no_new_privileges=False, cap_drop=[], cap_add=["net_bind_service"], root_start=True
    )
    assert explicit == {"cap_add": ["NET_BIND_SERVICE"]}


SETUID_IMAGE = """FROM {base}
USER root
RUN cp "$(readlink -f /usr/bin/python3)" /usr/local/bin/rootpy && chmod 4755 /usr/local/bin/rootpy
USER 1000
"""

# an image that starts as root, sets up the home and switches user, like docker-stacks' start.sh
ROOT_START_IMAGE = """FROM {base}
USER root
CMD ["sh", "-c", "chown 1000:100 /home/jovyan && exec {switch} jupyterhub-singleuser"]
""".replace("{switch}", "setpriv --reuid=1000 --regid=100 --init-groups")


def build(docker_client, dockerfile: str, tag: str) -> str:
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    return tag


@pytest.fixture(scope="module")
def setuid_image(docker_client, test_image):
    tag = build(docker_client, SETUID_IMAGE.format(base=test_image), f"{TEST_PREFIX}-setuid:1")
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def root_start_image(docker_client, test_image):
    tag = build(
        docker_client, ROOT_START_IMAGE.format(base=test_image), f"{TEST_PREFIX}-rootstart:1"
    )
    yield tag
    docker_client.images.remove(tag, force=True)


EUID = "import os; os.setuid(0); print('root', os.geteuid())"


@pytest.mark.docker
@pytest.mark.hub
async def test_setuid_binary_gives_no_root(docker_client, setuid_image, chp, docker_debug):
    c = kit_config(setuid_image, mem_limit="300M")
    async with running_hub(c) as app:
        ensure_user(app, "eve")
        await start_server(app, "eve")
        code, out = await container_exec(
            docker_client, "eve", ["/usr/local/bin/rootpy", "-c", EUID]
        )
        assert code != 0 and "PermissionError" in out, out  # setuid bit ignored: still uid 1000
        hc = docker_client.containers.get(f"{TEST_PREFIX}-eve").attrs["HostConfig"]
        assert hc["SecurityOpt"] == ["no-new-privileges:true"] and hc["CapDrop"] == ["ALL"]
        assert not hc["CapAdd"]
        await stop_server(app, "eve")
    # the same image under Docker's defaults (what stock DockerSpawner gives): root
    out = await asyncio.to_thread(
        docker_client.containers.run,
        setuid_image,
        ["/usr/local/bin/rootpy", "-c", EUID],
        remove=True,
    )
    assert out.decode().strip() == "root 0"


@pytest.mark.docker
@pytest.mark.hub
async def test_image_that_starts_as_root_gets_just_the_caps_it_needs(
    docker_client, root_start_image, chp, docker_debug
):
    c = kit_config(root_start_image, mem_limit="300M")
    async with running_hub(c) as app:
        ensure_user(app, "ria")
        await start_server(app, "ria")
        hc = docker_client.containers.get(f"{TEST_PREFIX}-ria").attrs["HostConfig"]
        assert sorted(hc["CapAdd"]) == sorted(ROOT_START_CAPS), hc["CapAdd"]
        # the server (PID 1 after the start script's exec) runs as the user
        _, out = await container_exec(docker_client, "ria", ["grep", "^Uid:", "/proc/1/status"])
        assert out.split()[1:3] == ["1000", "1000"], out
        # as the user, the kept capabilities are not effective (setpriv cleared them)
        _, out = await container_exec(docker_client, "ria", ["grep", "CapEff", "/proc/1/status"])
        assert out.split()[1] == "0000000000000000", out
        await stop_server(app, "ria")
    # with no capability at all, such an image cannot start: the "auto" set is what it needs
    c = kit_config(root_start_image, mem_limit="300M", cap_add=[], start_after_queue_timeout=20)
    async with running_hub(c) as app:
        ensure_user(app, "rib")
        failure = await failed_spawn(app, "rib")
        assert "stopped while starting" in str(failure) or "did not start" in str(failure)
