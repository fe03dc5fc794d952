"""JupyterHub's extension points meeting the kit's, on real spawns: a group override
of ``mem_limit`` beside ``quota_groups`` (the container's memory), and a home
provisioner another package registers by entry point (the home it makes).

Their pure halves: tests/unit/test_group_overrides.py, tests/unit/test_provisioner_names.py.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import TEST_PREFIX
from hubutil import container_exec, ensure_user, kit_config, running_hub, start_server, stop_server
from thirdparty import MARK, install_distribution

pytestmark = [pytest.mark.docker, pytest.mark.hub]

M = 1024**2


def memory(docker_client, name):
    return docker_client.containers.get(f"{TEST_PREFIX}-{name}").attrs["HostConfig"]["Memory"]


async def test_group_override_then_quota_groups(docker_client, test_image, chp, docker_debug):
    config = kit_config(
        test_image,
        mem_limit="300M",
        group_overrides={
            "10-lab-memory": {"groups": ["lab"], "spawner_override": {"mem_limit": "600M"}}
        },
        quota_groups={"course": {"mem_limit": "400M"}},
    )
    async with running_hub(config) as app:
        ensure_user(app, "gina", groups=("lab",))
        ensure_user(app, "hugo", groups=("lab", "course"))
        names = ["gina", "hugo"]
        await asyncio.gather(*(start_server(app, n) for n in names))
        try:
            # the override is gina's default; hugo's course entry layers over it
            assert memory(docker_client, "gina") == 600 * M
            assert memory(docker_client, "hugo") == 400 * M
            _, out = await container_exec(docker_client, "hugo", ["sh", "-c", "echo $MEM_LIMIT"])
            assert out.strip() == str(400 * M)  # what the server is told is what it got
        finally:
            await asyncio.gather(*(stop_server(app, n) for n in names))


@pytest.mark.root
async def test_a_registered_provisioner_makes_the_home(
    docker_client, test_image, chp, mount_area, monkeypatch, docker_debug
):
    site = mount_area / "site"
    install_distribution(site)
    monkeypatch.syspath_prepend(str(site))  # importlib.metadata finds it there
    from jhub_kit import registry

    registry.forget("provisioner")  # shared per hub config: this hub's is new
    homes = mount_area / "homes"
    config = kit_config(test_image, home_provisioner="marking", home_target="/home/jovyan")
    config.MarkingProvisioner.base_dir = str(homes)
    async with running_hub(config) as app:
        ensure_user(app, "ann")
        await start_server(app, "ann")
        try:
            assert (homes / "ann" / MARK).read_text() == "ann"
            code, out = await container_exec(
                docker_client, "ann", ["sh", "-c", f"cat /home/jovyan/{MARK}; echo; id -u"]
            )
            assert code == 0 and out.split() == ["ann", "1000"], out
        finally:
            await stop_server(app, "ann")
