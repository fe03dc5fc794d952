"""example_config/ for real: a hub from its config spawns a server; its image builds offline."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from conftest import TEST_PREFIX
from hubimage import example_context
from hubutil import ensure_user, running_hub, start_server, stop_server
from traitlets.config.loader import PyFileConfigLoader

pytestmark = [pytest.mark.docker]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example_config"
M = 1024**2


@pytest.mark.hub
async def test_hub_from_example_config_spawns(
    docker_client, test_image, chp, tmp_path, monkeypatch, docker_debug
):
    monkeypatch.setenv("DOCKER_NETWORK_NAME", "host")  # tests keep traffic on loopback
    monkeypatch.setenv("DOCKER_NOTEBOOK_IMAGE", test_image)
    monkeypatch.setenv("JHUB_KIT_DATA_DIR", str(tmp_path))
    c = PyFileConfigLoader("jupyterhub_config.py", str(EXAMPLE)).load_config()
    # paths that live in the hub image, here in the checkout
    c.UserlistMixin.userlist_file = str(EXAMPLE / "userlist")
    c.QuotaDockerSpawner.quota_policy_file = str(EXAMPLE / "quotas.toml")
    # test rig: own names (for cleanup), the local image, no pulls
    c.QuotaDockerSpawner.prefix = TEST_PREFIX
    c.QuotaDockerSpawner.pull_policy = "never"
    c.DockerVolumeProvisioner.volume_prefix = f"{TEST_PREFIX}-home-"
    c.Authenticator.admin_users = {"admin"}
    async with running_hub(c) as app:
        ensure_user(app, "teacher", groups=("teachers",))
        await start_server(app, "teacher")
        try:
            container = docker_client.containers.get(f"{TEST_PREFIX}-teacher")
            hc = container.attrs["HostConfig"]
            assert hc["Memory"] == 4096 * M  # group teachers in quotas.toml
            assert hc["CpuQuota"] == 200_000 and hc["PidsLimit"] == 512
            [home] = [
                m for m in container.attrs["Mounts"] if m["Destination"] == "/home/jovyan/work"
            ]
            assert home["Type"] == "volume" and home["Name"] == f"{TEST_PREFIX}-home-teacher"
            # the test image has no /home/jovyan/work: the new volume was given to jovyan
            code, out = container.exec_run(["touch", "/home/jovyan/work/x"], user="1000")
            assert code == 0, out
        finally:
            await stop_server(app, "teacher")
            docker_client.volumes.get(f"{TEST_PREFIX}-home-teacher").remove()


def test_hub_image_builds_from_a_local_base_offline(docker_client, test_image, tmp_path):
    context = example_context(tmp_path / "context")
    tag = f"{TEST_PREFIX}-hub:latest"
    try:
        docker_client.images.build(
            path=str(context),
            tag=tag,
            rm=True,
            network_mode="none",  # no registry, no index
            buildargs={
                "BASE_IMAGE": test_image,
                "PIP_OPTIONS": "--no-index --find-links /tmp/wheels",
            },
        )
        out = docker_client.containers.run(
            tag,
            ["jhub-kit", "config", "check", "-f", "/srv/jupyterhub/jupyterhub_config.py"],
            environment={
                "DOCKER_NETWORK_NAME": "jupyterhub-network",
                "JHUB_KIT_DATA_DIR": "/tmp/data",
            },
            remove=True,
            stderr=True,
        ).decode()
        assert "authenticator:     jhub_kit.auth.native.UserlistNativeAuthenticator" in out
        assert "quota groups:      class-a, teachers" in out
        assert out.rstrip().endswith("ok"), out
    finally:
        with contextlib.suppress(Exception):
            docker_client.images.remove(tag, force=True)
