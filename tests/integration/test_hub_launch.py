"""The kit's start-up runs however the hub is launched (issue 36): the warm pool
fills before anyone logs in, and a stopped hub leaves no unassigned member, for a
hub started by the ``jupyterhub`` command, by ``python -m jupyterhub``, by a script
calling ``JupyterHub.launch_instance()``, and in-process by JupyterHub's own test
fixture (``MockHub``). Nothing of it starts at import: the config asks for it
(:func:`jhub_kit.follow_hub`)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hubproc import Hub
from hubutil import running_hub
from test_pool import fresh_pools, pool_config, until  # noqa: F401 - a fixture

pytestmark = [pytest.mark.docker, pytest.mark.hub, pytest.mark.root]

CONFIG = """\
c.Authenticator.allow_all = True
c.QuotaDockerSpawner.mem_limit = "300M"
c.QuotaDockerSpawner.pool_size = 1
c.QuotaDockerSpawner.pool_dir = "{tmp}/pool"
import jhub_kit
jhub_kit.follow_hub()
"""


def members(docker_client, prefix: str) -> list[str]:
    label = {"label": f"io.jhub-kit.pool={prefix}"}
    return [c.name for c in docker_client.containers.list(all=True, filters=label)]


@pytest.mark.parametrize("launch", Hub.LAUNCHES)
async def test_the_pool_fills_before_any_login_however_the_hub_is_launched(
    launch, docker_client, test_image, chp, mount_area, docker_debug
):
    from conftest import TEST_PREFIX, remove_test_containers

    prefix = f"{TEST_PREFIX}-launch"
    remove_test_containers(docker_client, prefix)
    hub = Hub(mount_area, test_image, prefix, CONFIG)
    status_file = mount_area / "pool" / "status.json"

    def ready() -> int:
        try:
            return json.loads(status_file.read_text())["ready"]
        except (OSError, ValueError, KeyError):
            return -1

    try:
        await asyncio.to_thread(hub.start, launch)
        assert hub.users() == {}  # nobody has logged in
        await until(lambda: ready() == 1, 240, f"the pool filled ({launch})")
        assert len(members(docker_client, prefix)) == 1
    finally:
        await asyncio.to_thread(hub.stop)
    log = (mount_area / "hub.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    # the hub's stop removed its unassigned member
    await until(lambda: not members(docker_client, prefix), 60, "the member removed")


@pytest.mark.usefixtures("fresh_pools")
async def test_the_pool_fills_with_jupyterhubs_own_test_fixture(
    docker_client, test_image, chp, mount_area, docker_debug
):
    """MockHub runs no config file: the test asks as the config would, once the
    hub object exists, and nothing else starts the kit."""
    c = pool_config(test_image, mount_area, size=1)
    async with running_hub(c, follow=True) as app:
        from jhub_kit import registry

        await until(lambda: registry.all_of("pool", app.config), 60, "a pool started")
        [pool] = registry.all_of("pool", app.config)
        await until(lambda: len(pool.ready) == 1, 240, "the pool filled")
        assert not list(app.users)  # nobody logged in


def test_importing_the_kit_starts_no_thread(tmp_path):
    """Every module of the package imported in a fresh interpreter whose script is
    named ``jupyterhub`` (what the kit's old waker looked for): the threads
    afterwards are the ones before."""
    code = """
import importlib, pkgutil, threading, warnings
warnings.simplefilter("ignore")
import jhub_kit
before = {t.ident for t in threading.enumerate()}
for m in pkgutil.walk_packages(jhub_kit.__path__, "jhub_kit."):
    if m.name.endswith("__main__"):
        continue
    importlib.import_module(m.name)
import jhub_kit.spawners.docker, jhub_kit.spawners.swarm
after = [t.name for t in threading.enumerate() if t.ident not in before]
print(after)
"""
    support = str(Path(__file__).parents[1] / "support")  # jhub_kit.testing's shim needs it
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([support, *sys.path])}
    script = tmp_path / "jupyterhub"
    script.write_text(code)
    r = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "[]", r.stdout
